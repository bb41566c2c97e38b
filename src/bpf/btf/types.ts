// Decoded BTF type records (one interface per BTF_KIND_*), as produced by Btf.type(id).

/** BTF_KIND_* numbers from the kernel's uapi/linux/btf.h. Void is the implicit type id 0. */
export const enum BtfKind {
  Void = 0, Int = 1, Ptr = 2, Array = 3, Struct = 4, Union = 5, Enum = 6, Fwd = 7, Typedef = 8,
  Volatile = 9, Const = 10, Restrict = 11, Func = 12, FuncProto = 13, Var = 14, Datasec = 15,
  Float = 16, DeclTag = 17, TypeTag = 18, Enum64 = 19,
}

const KIND_NAMES = [
  'VOID', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST',
  'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
];

/** Kind names as bpftool prints them, for error messages and cross-checks. */
export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? `KIND_${kind}`;
}

/** VAR / FUNC linkage values. */
export const enum BtfLinkage { Static = 0, Global = 1, Extern = 2 }

interface Base { id: number; name: string }

export interface BtfVoid extends Base { kind: BtfKind.Void }
export interface BtfInt extends Base {
  kind: BtfKind.Int;
  size: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
  /** Legacy bitfield encoding: bit offset and width stored on the INT itself (usually 0 / size*8). */
  bitOffset: number;
  bits: number;
}
export interface BtfPtr extends Base { kind: BtfKind.Ptr; type: number }
export interface BtfArray extends Base { kind: BtfKind.Array; type: number; indexType: number; nelems: number }
export interface BtfMember {
  name: string;
  type: number;
  /** Offset in bits from the start of the enclosing struct/union. */
  bitOffset: number;
  /** Non-zero only for bitfields encoded with kind_flag. */
  bitfieldSize: number;
}
export interface BtfStruct extends Base { kind: BtfKind.Struct | BtfKind.Union; size: number; members: BtfMember[] }
export interface BtfEnumValue { name: string; value: bigint }
export interface BtfEnum extends Base {
  kind: BtfKind.Enum | BtfKind.Enum64;
  size: number;
  signed: boolean;
  values: BtfEnumValue[];
}
export interface BtfFwd extends Base { kind: BtfKind.Fwd; union: boolean }
export interface BtfRef extends Base {
  kind: BtfKind.Typedef | BtfKind.Volatile | BtfKind.Const | BtfKind.Restrict | BtfKind.TypeTag;
  type: number;
}
export interface BtfFunc extends Base { kind: BtfKind.Func; type: number; linkage: number }
export interface BtfParam { name: string; type: number }
export interface BtfFuncProto extends Base { kind: BtfKind.FuncProto; returnType: number; params: BtfParam[] }
export interface BtfVar extends Base { kind: BtfKind.Var; type: number; linkage: number }
export interface BtfVarSecinfo { type: number; offset: number; size: number }
export interface BtfDatasec extends Base { kind: BtfKind.Datasec; size: number; vars: BtfVarSecinfo[] }
export interface BtfFloat extends Base { kind: BtfKind.Float; size: number }
export interface BtfDeclTag extends Base { kind: BtfKind.DeclTag; type: number; componentIdx: number }

export type BtfType =
  | BtfVoid | BtfInt | BtfPtr | BtfArray | BtfStruct | BtfEnum | BtfFwd | BtfRef | BtfFunc
  | BtfFuncProto | BtfVar | BtfDatasec | BtfFloat | BtfDeclTag;

/** Kinds that only qualify or rename another type: skipped by Btf.resolve(). */
export function isModifierOrTypedef(kind: number): boolean {
  return kind === BtfKind.Typedef || kind === BtfKind.Volatile || kind === BtfKind.Const ||
    kind === BtfKind.Restrict || kind === BtfKind.TypeTag;
}
