// Turn a flattened BTF struct layout into data-source fields, applying what upstream derives from type names:
// templates for gadget_* typedefs, process-struct aliases, l3/l4 endpoint sub-fields and enum names.
import type { LayoutField, StructLayout, EnumInfo } from '../../bpf/btf/model.js';
import { DataSource, Field, FieldFlag, Kind, TYPE_TEMPLATES, Batch } from '../../datasource/index.js';
import { ipString, PROTOCOLS, targetName } from '../../format/index.js';

export interface AddStructOptions {
  /** Byte offset of this struct inside the record (map iterators put the value after the key). */
  base?: number;
  tags?: string[];
  /** Resolve an enum by name in the kernel's BTF (it wins over the gadget's own copy, as upstream). */
  kernelEnum?: (name: string) => EnumInfo | undefined;
}

/** Add every member of `layout` to `ds` as static fields at `base`. */
export function addStructFields(ds: DataSource, layout: StructLayout, opts: AddStructOptions = {}): Field[] {
  const base = opts.base ?? 0;
  const byFullName = new Map<string, Field>();
  const added: Field[] = [];
  for (const lf of layout.fields) {
    const parent = lf.parentFullName ? byFullName.get(lf.parentFullName) : undefined;
    if (lf.parentFullName && !parent) continue; // parent was skipped (pointer, array of structs)
    const annotations: Record<string, string> = {};
    const tpl = lf.typeNames.map((t) => TYPE_TEMPLATES[t]).find(Boolean);
    if (tpl) annotations['template'] = tpl;
    // Members of a gadget_process (also when the whole record is one, as snapshot_process') are shown by their
    // own name: creds.uid as UID, parent.pid as PID.
    const inProcess = parent && (layout.name === 'gadget_process' || parentChainHas(parent, 'gadget_process'));
    if (inProcess) annotations['columns.alias'] = lf.name;
    if (lf.typeNames.includes('gadget_l4endpoint_t')) Object.assign(annotations, { template: 'l4endpoint', 'columns.replace': 'endpoint' });
    if (lf.typeNames.includes('gadget_l3endpoint_t')) Object.assign(annotations, { 'columns.replace': 'addr' });
    const f = ds.addField({
      name: lf.name,
      parent,
      kind: lf.kind,
      tags: [...lf.tags, ...(opts.tags ?? [])],
      annotations,
      flags: FieldFlag.StaticMember,
      storage: { type: 'static', offs: base + lf.offset, size: lf.size, bitOffset: lf.bitOffset, bitSize: lf.bitSize },
    });
    (f as Field & { structName?: string }).structName = lf.structName;
    byFullName.set(lf.fullName, f);
    added.push(f);
    if (lf.enumInfo) addEnumField(ds, f, lf, opts.kernelEnum);
  }
  for (const f of added) {
    const names = f.typeNames().concat((f as Field & { structName?: string }).structName ?? []);
    if (names.includes('gadget_l4endpoint_t') || names.includes('gadget_l3endpoint_t')) addEndpointFields(ds, f, names.includes('gadget_l4endpoint_t'));
  }
  return added;
}

function parentChainHas(f: Field, structName: string): boolean {
  for (let p: Field | undefined = f; p; p = p.parent) {
    if ((p as Field & { structName?: string }).structName === structName) return true;
  }
  return false;
}

function addEnumField(ds: DataSource, raw: Field, lf: LayoutField, kernelEnum?: (n: string) => EnumInfo | undefined): void {
  const info = (lf.enumInfo && kernelEnum?.(lf.enumInfo.name)) ?? lf.enumInfo!;
  const name = raw.annotation('ebpf.formatter.enum') ?? targetName(raw, 'enum') ?? undefined;
  if (!name) return;
  const isSet = info.name.endsWith('_set');
  const sep = raw.annotation('ebpf.formatter.bitfield.separator') ?? '|';
  const get = raw.get;
  const entries = [...info.values.entries()];
  const compute = (b: Batch, i: number): string => {
    const v = BigInt(get(b, i) as number | bigint);
    if (!isSet) return info.values.get(v) ?? 'UNKNOWN';
    const out: string[] = [];
    for (const [bit, n] of entries) if (bit !== 0n && (v & bit) === bit) out.push(n);
    return out.join(sep);
  };
  const f = ds.addField({
    name, parent: raw.parent, kind: Kind.String, order: raw.order, tags: ['src:ebpf', 'type:enum'],
    annotations: { description: raw.annotation('description') ?? '' },
    storage: { type: 'derived', compute },
  });
  f.derivation = { kind: 'computed', inputs: [raw] }; // the names follow from the raw value alone
  if (!isSet) f.enumValues = [...new Set([...info.values.values(), 'UNKNOWN'])];
  raw.setHidden(true);
}

function addEndpointFields(ds: DataSource, parent: Field, l4: boolean): void {
  const child = (n: string) => ds.getField(`${parent.fullName}.${n}`);
  const addrRaw = child('addr_raw');
  const version = child('version');
  if (!addrRaw || !version || addrRaw.storage.type !== 'static') return;
  const addrOffs = addrRaw.storage.offs;
  const getVersion = version.get;
  const addr = (b: Batch, i: number) => ipString(b.buf, b.offs[i]! + addrOffs, Number(getVersion(b, i)));
  addrRaw.setHidden(true);
  addrRaw.annotations.set('json.skip', 'true');
  for (const sub of ds.fields.filter((f) => f.parent === addrRaw)) sub.annotations.set('json.skip', 'true');
  const addrField = ds.addField({ name: 'addr', parent, kind: Kind.String, tags: ['src:ebpf'], annotations: { description: 'IP address' }, storage: { type: 'derived', compute: addr } });
  addrField.derivation = { kind: 'computed', inputs: [addrRaw, version] };
  if (!l4) return;
  const port = child('port');
  const protoRaw = child('proto_raw');
  if (protoRaw) {
    protoRaw.setHidden(true);
    protoRaw.annotations.set('json.skip', 'true');
    const gp = protoRaw.get;
    const proto = ds.addField({ name: 'proto', parent, kind: Kind.String, tags: ['src:ebpf'], annotations: { 'columns.hidden': 'true', description: 'Transport protocol' },
      storage: { type: 'derived', compute: (b, i) => PROTOCOLS[Number(gp(b, i))] ?? String(gp(b, i)) } });
    proto.derivation = { kind: 'computed', inputs: [protoRaw] };
  }
  if (port) {
    const gport = port.get;
    const endpoint = ds.addField({ name: 'endpoint', parent, kind: Kind.String, tags: ['src:ebpf'], annotations: { 'columns.hidden': 'true', 'json.skip': 'true' },
      storage: { type: 'derived', compute: (b, i) => {
        const a = addr(b, i);
        return Number(getVersion(b, i)) === 6 ? `[${a}]:${gport(b, i)}` : `${a}:${gport(b, i)}`;
      } } });
    endpoint.derivation = { kind: 'computed', inputs: [addrRaw, version, port] };
  }
  version.setHidden(true);
}
