// Key and value types of BTF-defined maps (the anonymous struct behind each `.maps` variable).
import type { Btf } from './btf.js';
import { BtfKind, type BtfStruct, type BtfVar } from './types.js';

export interface MapBtf { name: string; keyTypeId?: number; valueTypeId?: number; keySize?: number; valueSize?: number; mapType?: number }

export function mapBtf(btf: Btf, mapName: string): MapBtf | undefined {
  const v = btf.datasecVars('.maps').find((x) => x.name === mapName);
  if (!v) return undefined;
  const varT = btf.type(v.typeId) as BtfVar;
  const def = btf.resolve(varT.kind === BtfKind.Var ? varT.type : v.typeId);
  if (def.kind !== BtfKind.Struct) return { name: mapName };
  const out: MapBtf = { name: mapName };
  for (const m of (def as BtfStruct).members) {
    const t = btf.resolve(m.type);
    if (t.kind !== BtfKind.Ptr) continue;
    if (m.name === 'key') { out.keyTypeId = t.type; out.keySize = btf.sizeOf(t.type); }
    if (m.name === 'value') { out.valueTypeId = t.type; out.valueSize = btf.sizeOf(t.type); }
    if (m.name === 'type') {
      const arr = btf.resolve(t.type);
      if (arr.kind === BtfKind.Array) out.mapType = arr.nelems;
    }
  }
  return out;
}
