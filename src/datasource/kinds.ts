// Field kinds (numbered as upstream's api.Kind) and their byte sizes. A leaf module: no imports, so that the BTF
// layer (src/bpf/btf) can type struct members with these kinds without depending on the rest of datasource.

/** Field kinds, numbered as upstream's api.Kind. Arrays set KindFlagArray. */
export const enum Kind {
  Invalid = 0, Bool = 1, Int8 = 2, Int16 = 3, Int32 = 4, Int64 = 5,
  Uint8 = 6, Uint16 = 7, Uint32 = 8, Uint64 = 9, Float32 = 10, Float64 = 11,
  String = 12, CString = 13, Bytes = 14,
}
export const KindFlagArray = 0x10000000;

const SCALAR_SIZES: Record<number, number> = {
  [Kind.Bool]: 1, [Kind.Int8]: 1, [Kind.Uint8]: 1, [Kind.Int16]: 2, [Kind.Uint16]: 2,
  [Kind.Int32]: 4, [Kind.Uint32]: 4, [Kind.Float32]: 4, [Kind.Int64]: 8, [Kind.Uint64]: 8, [Kind.Float64]: 8,
};

export function scalarSize(kind: number): number {
  return SCALAR_SIZES[kind & ~KindFlagArray] ?? 0;
}

export function isArrayKind(kind: number): boolean {
  return (kind & KindFlagArray) !== 0;
}

export function baseKind(kind: number): number {
  return kind & ~KindFlagArray;
}

export function isIntegerKind(kind: number): boolean {
  return kind >= Kind.Int8 && kind <= Kind.Uint64;
}

export function isSignedKind(kind: number): boolean {
  return kind >= Kind.Int8 && kind <= Kind.Int64;
}

export function isNumericKind(kind: number): boolean {
  return isIntegerKind(kind) || kind === Kind.Float32 || kind === Kind.Float64;
}

export function isStringKind(kind: number): boolean {
  return kind === Kind.String || kind === Kind.CString;
}

const NAMES: Record<number, string> = {
  [Kind.Invalid]: 'invalid', [Kind.Bool]: 'bool', [Kind.Int8]: 'int8', [Kind.Int16]: 'int16', [Kind.Int32]: 'int32',
  [Kind.Int64]: 'int64', [Kind.Uint8]: 'uint8', [Kind.Uint16]: 'uint16', [Kind.Uint32]: 'uint32', [Kind.Uint64]: 'uint64',
  [Kind.Float32]: 'float32', [Kind.Float64]: 'float64', [Kind.String]: 'string', [Kind.CString]: 'string', [Kind.Bytes]: 'bytes',
};

export function kindName(kind: number): string {
  const n = NAMES[baseKind(kind)] ?? 'unknown';
  return isArrayKind(kind) ? `[]${n}` : n;
}
