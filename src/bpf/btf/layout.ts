// Turns BTF structs and variables into the field descriptions the datasource layer consumes,
// following the upstream ebpf operator's flattening rules (ig-spec §3.3).

import type { Btf } from './btf.js';
import { Kind, KindFlagArray, type EnumInfo, type LayoutField, type StructLayout, type VarInfo } from './model.js';
import { BtfKind, BtfLinkage, isModifierOrTypedef, kindName, type BtfEnum, type BtfStruct, type BtfType, type BtfVar } from './types.js';

/** Nesting beyond this only happens with corrupt (self-containing) BTF. */
const MAX_NESTING = 32;

interface Chain {
  /** Names met while following typedefs/modifiers, outermost first, ending with the final type's name. */
  names: string[];
  final: BtfType;
  isConst: boolean;
  isVolatile: boolean;
}

/**
 * Follows typedefs and qualifiers from `id`. Every named type on the way is recorded because
 * upstream turns each into a `type:` tag: gadget_mntns_id -> __u64 -> "unsigned long long".
 */
function chainOf(btf: Btf, id: number): Chain {
  const names: string[] = [];
  let isConst = false;
  let isVolatile = false;
  let t = btf.type(id);
  for (let depth = 0; isModifierOrTypedef(t.kind); depth++) {
    if (depth >= MAX_NESTING * 2) throw new Error(`BTF type chain starting at ${id} is too deep (cycle?)`);
    if (t.kind === BtfKind.Const) isConst = true;
    if (t.kind === BtfKind.Volatile) isVolatile = true;
    if (t.name) names.push(t.name);
    t = btf.type((t as { type: number }).type);
  }
  if (t.name) names.push(t.name);
  return { names, final: t, isConst, isVolatile };
}

/**
 * const/volatile seen on the way to the underlying type. C puts qualifiers of an array on its
 * elements (`const volatile char x[16]` is ARRAY -> CONST -> VOLATILE -> char), so arrays are entered.
 */
export function qualifiersOf(btf: Btf, id: number): { isConst: boolean; isVolatile: boolean } {
  let isConst = false;
  let isVolatile = false;
  for (let depth = 0; depth < MAX_NESTING; depth++) {
    const c = chainOf(btf, id);
    isConst ||= c.isConst;
    isVolatile ||= c.isVolatile;
    if (c.final.kind !== BtfKind.Array) break;
    id = c.final.type;
  }
  return { isConst, isVolatile };
}

interface Scalar { kind: Kind; size: number; signed: boolean; enumInfo?: EnumInfo }

const INT_KINDS: Record<number, [Kind, Kind]> = {
  1: [Kind.Int8, Kind.Uint8], 2: [Kind.Int16, Kind.Uint16], 4: [Kind.Int32, Kind.Uint32], 8: [Kind.Int64, Kind.Uint64],
};

/** Field kind for a resolved scalar type; undefined for anything datasources cannot hold (e.g. __int128). */
function scalarOf(t: BtfType): Scalar | undefined {
  switch (t.kind) {
    case BtfKind.Int: {
      if (t.bool) return { kind: Kind.Bool, size: t.size, signed: false };
      const k = INT_KINDS[t.size];
      return k && { kind: t.signed ? k[0] : k[1], size: t.size, signed: t.signed };
    }
    case BtfKind.Enum: case BtfKind.Enum64: {
      const k = INT_KINDS[t.size];
      return k && { kind: t.signed ? k[0] : k[1], size: t.size, signed: t.signed, enumInfo: enumInfoOf(t) };
    }
    case BtfKind.Float:
      if (t.size === 4) return { kind: Kind.Float32, size: 4, signed: true };
      if (t.size === 8) return { kind: Kind.Float64, size: 8, signed: true };
      return undefined;
    default:
      return undefined;
  }
}

/** A 1-byte int that is `char` by encoding or by name (clang marks plain `char` SIGNED, not CHAR). */
function isCharElem(t: BtfType, names: string[]): boolean {
  return t.kind === BtfKind.Int && t.size === 1 && !t.bool && (t.char || names.includes('char'));
}

export function enumInfoOf(t: BtfEnum): EnumInfo {
  const values = new Map<bigint, string>();
  // First enumerator wins for aliased values: later ones are usually *_MAX style aliases.
  for (const v of t.values) if (!values.has(v.value)) values.set(v.value, v.name);
  return { name: t.name, values, size: t.size, signed: t.signed };
}

export function structLayoutOf(btf: Btf, id: number): StructLayout {
  const root = btf.resolve(id);
  if (root.kind !== BtfKind.Struct && root.kind !== BtfKind.Union) {
    throw new Error(`BTF type ${id} is a ${kindName(root.kind)}, not a struct or union`);
  }
  const fields: LayoutField[] = [];
  addMembers(btf, root, 0, '', undefined, fields, 0);
  return { name: root.name, size: root.size, fields };
}

function addMembers(btf: Btf, t: BtfStruct, baseBits: number, prefix: string, parent: string | undefined,
  out: LayoutField[], depth: number): void {
  if (depth > MAX_NESTING) throw new Error(`struct nesting deeper than ${MAX_NESTING} at "${prefix}" (cyclic BTF?)`);
  for (const m of t.members) {
    // Upstream convention: `__`-prefixed members are padding/internal and never become fields.
    if (m.name.startsWith('__')) continue;
    const bits = baseBits + m.bitOffset;
    const chain = chainOf(btf, m.type);
    const ft = chain.final;

    if (ft.kind === BtfKind.Struct || ft.kind === BtfKind.Union) {
      if (m.name === '') {
        // Anonymous struct/union: its members belong to the enclosing level.
        addMembers(btf, ft, bits, prefix, parent, out, depth + 1);
        continue;
      }
      const f = field(m.name, prefix, parent, Math.floor(bits / 8), ft.size, Kind.Bytes, chain.names);
      f.isStructParent = true;
      f.structName = ft.name;
      out.push(f);
      addMembers(btf, ft, bits, f.fullName + '.', f.fullName, out, depth + 1);
      continue;
    }
    if (m.name === '') continue; // unnamed bitfield padding (`int :3`)

    if (ft.kind === BtfKind.Array) {
      const elem = chainOf(btf, ft.type);
      const names = [...chain.names, ...elem.names];
      const s = scalarOf(elem.final); // arrays of structs, arrays and pointers stay undefined: skipped
      if (!s || ft.nelems === 0) continue;
      const off = Math.floor(bits / 8);
      if (isCharElem(elem.final, names)) {
        out.push(field(m.name, prefix, parent, off, ft.nelems, Kind.CString, names));
      } else {
        const f = field(m.name, prefix, parent, off, ft.nelems * s.size, s.kind | KindFlagArray, names);
        f.arrayLen = ft.nelems;
        out.push(f);
      }
      continue;
    }

    const s = scalarOf(ft); // pointers, functions and forward declarations are skipped, as upstream does
    if (!s) continue;
    let bitSize = m.bitfieldSize;
    let abs = bits;
    if (bitSize === 0 && ft.kind === BtfKind.Int && (ft.bitOffset !== 0 || ft.bits !== ft.size * 8)) {
      // Pre-kind_flag bitfield encoding: width and extra offset live on the INT type.
      bitSize = ft.bits;
      abs += ft.bitOffset;
    }
    if (bitSize === 0) {
      const f = field(m.name, prefix, parent, Math.floor(bits / 8), s.size, s.kind, chain.names);
      if (s.enumInfo) f.enumInfo = s.enumInfo;
      out.push(f);
      continue;
    }
    // Bitfield: describe the naturally aligned storage unit of the declared int type that holds it,
    // so a reader loads `size` bytes at `offset` and extracts bitSize bits at bitOffset.
    const unitBits = s.size * 8;
    let unitStart = Math.floor(abs / unitBits) * unitBits;
    if (abs - unitStart + bitSize > unitBits) unitStart = Math.floor(abs / 8) * 8; // packed struct straddling a unit
    const f = field(m.name, prefix, parent, unitStart / 8, s.size, s.kind, chain.names);
    f.bitOffset = abs - unitStart;
    f.bitSize = bitSize;
    if (s.enumInfo) f.enumInfo = s.enumInfo;
    out.push(f);
  }
}

function field(name: string, prefix: string, parent: string | undefined, offset: number, size: number,
  kind: number, typeNames: string[]): LayoutField {
  const f: LayoutField = {
    name,
    fullName: prefix + name,
    offset,
    size,
    kind,
    tags: [...typeNames.map((n) => `type:${n}`), `name:${name}`, 'src:ebpf'],
    typeNames: [...typeNames],
  };
  if (parent !== undefined) f.parentFullName = parent;
  return f;
}

interface Placement { section: string; offset: number; size: number }

export function varInfoOf(btf: Btf, v: BtfVar, at: Placement | undefined): VarInfo {
  const chain = chainOf(btf, v.type);
  const t = chain.final;
  let size: number;
  try {
    size = btf.sizeOf(v.type);
  } catch {
    size = at?.size ?? 0; // e.g. `extern ... __ksym` of void type
  }
  let kind: number = Kind.Bytes;
  let signed = false;
  let typeNames = chain.names;
  let arrayLen: number | undefined;
  const s = scalarOf(t);
  if (s) {
    kind = s.kind;
    signed = s.signed;
  } else if (t.kind === BtfKind.Array) {
    const elem = chainOf(btf, t.type);
    typeNames = [...chain.names, ...elem.names];
    arrayLen = t.nelems;
    if (isCharElem(elem.final, typeNames)) kind = Kind.CString;
  }
  const quals = qualifiersOf(btf, v.type);
  const info: VarInfo = {
    name: v.name,
    section: at?.section ?? '',
    size,
    kind,
    typeNames: [...typeNames],
    signed,
    typeId: v.type,
    offset: at?.offset,
    constVolatile: quals.isConst && quals.isVolatile,
    global: v.linkage !== BtfLinkage.Static,
  };
  if (arrayLen !== undefined) info.arrayLen = arrayLen;
  return info;
}
