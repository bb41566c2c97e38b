// A Field is an accessor: how to read (and write) one value of a record in a Batch, computed once.
import { Kind, KindFlagArray, baseKind, isArrayKind, scalarSize } from './kinds.js';
import type { Batch } from './batch.js';
import { u64Mod1e9 } from '../format/decimal.js';

export const FieldFlag = {
  Empty: 1,          // carries no value, only groups sub-fields (k8s, runtime)
  Container: 2,      // the whole static struct blob
  Hidden: 4,         // not in default columns; still in JSON
  HasParent: 8,
  StaticMember: 16,  // lives at offs/size inside the record bytes
  Unreferenced: 32,  // removed by name; skipped by outputs
} as const;

export type FieldValue = number | bigint | string | boolean | Buffer | number[] | bigint[] | null | undefined;
export type Getter = (b: Batch, i: number) => FieldValue;

export type Storage =
  | { type: 'static'; offs: number; size: number; bitOffset?: number; bitSize?: number }
  | { type: 'column'; column: number }
  | { type: 'derived'; compute: Getter }
  | { type: 'empty' };

const TWO32 = 4294967296;

/** Read a u64 as a Number when exact, else as a BigInt (JSON output prints both exactly). */
export function readU64(buf: Buffer, o: number): number | bigint {
  const lo = buf.readUInt32LE(o);
  const hi = buf.readUInt32LE(o + 4);
  if (hi < 0x200000) return hi * TWO32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * A u64 as exact decimal text without BigInt: split into (value div 1e9, value mod 1e9) with products that
 * stay below 2^53. The hot path for JSON output of timestamps and ids.
 */
export function u64Decimal(buf: Buffer, o: number): string {
  const lo = buf.readUInt32LE(o);
  const hi = buf.readUInt32LE(o + 4);
  if (hi < 0x200000) return String(hi * TWO32 + lo);
  const frac = u64Mod1e9(hi, lo);
  const q = Math.round((hi * TWO32 + lo - frac) / 1e9);
  return String(q) + String(frac).padStart(9, '0');
}

export { u64Mod1e9 };

export function readI64(buf: Buffer, o: number): number | bigint {
  const lo = buf.readUInt32LE(o);
  const hi = buf.readInt32LE(o + 4);
  if (hi >= -0x200000 && hi < 0x200000) return hi * TWO32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Bytes up to the first NUL, decoded as UTF-8 (latin1 fast path for ASCII). */
export function readCString(buf: Buffer, start: number, size: number): string {
  let end = buf.indexOf(0, start);
  if (end < 0 || end > start + size) end = start + size;
  return buf.toString('utf8', start, end);
}

function scalarReader(kind: number, offs: number): (buf: Buffer, o: number) => FieldValue {
  switch (kind) {
    case Kind.Bool: return (buf, o) => buf[o + offs] !== 0;
    case Kind.Int8: return (buf, o) => buf.readInt8(o + offs);
    case Kind.Uint8: return (buf, o) => buf[o + offs]!;
    case Kind.Int16: return (buf, o) => buf.readInt16LE(o + offs);
    case Kind.Uint16: return (buf, o) => buf.readUInt16LE(o + offs);
    case Kind.Int32: return (buf, o) => buf.readInt32LE(o + offs);
    case Kind.Uint32: return (buf, o) => buf.readUInt32LE(o + offs);
    case Kind.Int64: return (buf, o) => readI64(buf, o + offs);
    case Kind.Uint64: return (buf, o) => readU64(buf, o + offs);
    case Kind.Float32: return (buf, o) => buf.readFloatLE(o + offs);
    case Kind.Float64: return (buf, o) => buf.readDoubleLE(o + offs);
    default: return () => undefined;
  }
}

function staticGetter(kind: number, offs: number, size: number, bitOffset?: number, bitSize?: number): Getter {
  if (bitSize !== undefined && bitSize > 0) {
    // Bitfields: read the containing bytes, shift and mask. Only widths up to 32 bits matter in practice.
    const bo = bitOffset ?? 0;
    const mask = bitSize >= 32 ? 0xffffffff : (1 << bitSize) - 1;
    return (b, i) => {
      const o = b.offs[i]! + offs;
      let v = 0;
      for (let k = 0; k < size && k < 4; k++) v += b.buf[o + k]! * 2 ** (8 * k);
      return Math.floor(v / 2 ** bo) & mask;
    };
  }
  if (kind === Kind.CString || kind === Kind.String) {
    return (b, i) => readCString(b.buf, b.offs[i]! + offs, size);
  }
  if (kind === Kind.Bytes) {
    return (b, i) => b.buf.subarray(b.offs[i]! + offs, b.offs[i]! + offs + size);
  }
  if (isArrayKind(kind)) {
    const el = baseKind(kind);
    const es = scalarSize(el);
    const n = es ? Math.floor(size / es) : 0;
    const rd = scalarReader(el, 0);
    return (b, i) => {
      const o = b.offs[i]! + offs;
      const out: (number | bigint)[] = new Array(n);
      for (let k = 0; k < n; k++) out[k] = rd(b.buf, o + k * es) as number | bigint;
      return out as number[];
    };
  }
  const rd = scalarReader(kind, offs);
  return (b, i) => rd(b.buf, b.offs[i]!);
}

/** Subscribe to changes of the state a derived value depends on; returns the function that unsubscribes. */
export type Invalidation = (onChange: () => void) => () => void;

/**
 * Kernel maps that hold a computed string's value for most keys, so that a reader thread can answer without JS
 * (the operator's getter reads the same maps first, so both give the same text). Both are mappable arrays
 * (BPF_F_MMAPABLE) of 2^n entries, read without a syscall. `keys`: the entry for the derivation's first input k
 * (4 bytes) is at k % 2^n and is [u64 seq, odd while written][u32 k][u32 pad] then `slots` slots of
 * [`matchSize` bytes][u32 text index][u32 tag]; the slot whose first part equals the second input's bytes (both
 * compared as C strings) says where the text is. `texts`: [u64 seq][u32 tag][u32 pad][`textSize`-byte C string];
 * the entry at the slot's index is its text while its tag is the slot's (0: no text), so that a text many keys
 * share (an executable's path) is stored once. Another key's entry, no such slot, another tag or an empty text:
 * no answer (the getter computes the value its own way). `mapFds` starts the source on first use; undefined: not
 * available.
 */
export interface KernelTextSource { mapFds: () => { keys: number; texts: number } | undefined; slots: number; matchSize: number; textSize: number }

/**
 * What a derived value (or, on a parent, its whole subtree) follows from, declared by the operator that defines
 * it. Consumers that do not run the operator's JS (the native renderer memoises the value's text per input
 * bytes) read this description; nothing compares or wraps getters. A derived field without one can only be
 * computed by its getter.
 * - computed: a function of the `inputs` fields' record bytes (the memo key) and of state whose changes
 *   `invalidation` announces; an answer stays valid for at most `ttlMs` (0 or absent: until invalidated).
 * - wallclock-ns: a boot-clock u64 member that is rewritten in place to wall-clock ns (`offsetNs` added; 0 stays 0).
 * - wallclock-text: the RFC 3339 text of `input`'s wall-clock time ('' for 0).
 */
export type Derivation =
  | { kind: 'computed'; inputs: Field[]; ttlMs?: number; invalidation?: Invalidation; kernelText?: KernelTextSource }
  | { kind: 'wallclock-ns'; offsetNs: bigint }
  | { kind: 'wallclock-text'; input: Field; offsetNs: bigint };

export interface FieldInit {
  name: string;
  fullName?: string;
  kind: number;
  flags?: number;
  tags?: string[];
  annotations?: Record<string, string>;
  parent?: Field;
  order?: number;
  storage: Storage;
}

export class Field {
  readonly name: string;
  fullName: string;
  readonly kind: number;
  flags: number;
  readonly tags: string[];
  readonly annotations: Map<string, string>;
  readonly parent?: Field;
  order: number;
  index = -1;
  readonly storage: Storage;
  /** Read the value of record i: the storage reader, or the getter an operator set with override(). */
  readonly get: Getter;
  #overridden = false;
  /**
   * For a parent whose children's values all follow from one per-record key (the container of an event):
   * outputs may encode the subtree once per key. Set by the operator that adds the children.
   */
  subtreeKey?: (b: Batch, i: number) => unknown;
  /** What this value follows from (see Derivation); set by the operator that defines it. */
  derivation?: Derivation;
  /** The only values a string field takes (an enum's names), when the operator that defines it knows them. */
  enumValues?: readonly string[];

  constructor(init: FieldInit) {
    this.name = init.name;
    this.parent = init.parent;
    this.fullName = init.fullName ?? (init.parent ? `${init.parent.fullName}.${init.name}` : init.name);
    this.kind = init.kind;
    this.flags = (init.flags ?? 0) | (init.parent ? FieldFlag.HasParent : 0);
    this.tags = init.tags ?? [];
    this.annotations = new Map(Object.entries(init.annotations ?? {}));
    this.order = init.order ?? 0;
    this.storage = init.storage;
    this.get = this.makeGetter();
  }

  /**
   * Replace how the value is read (e.g. a char array shown as joined strings). From then on the value is not the
   * storage's bytes: consumers that read those bytes directly (native ops, the packet codec) must not.
   */
  override(get: Getter, derivation?: Derivation): void {
    (this as { get: Getter }).get = get;
    this.#overridden = true;
    this.derivation = derivation;
  }

  /** True when the value is exactly what the storage holds in the record bytes (a static member, not overridden). */
  get readsStorage(): boolean {
    return this.storage.type === 'static' && !this.#overridden;
  }

  private makeGetter(): Getter {
    const s = this.storage;
    switch (s.type) {
      case 'static': return staticGetter(this.kind, s.offs, s.size, s.bitOffset, s.bitSize);
      case 'column': { const c = s.column; return (b, i) => b.columns[c]?.[i] as FieldValue; }
      case 'derived': return s.compute;
      case 'empty': return () => undefined;
    }
  }

  get size(): number {
    return this.storage.type === 'static' ? this.storage.size : scalarSize(this.kind);
  }

  get hidden(): boolean { return (this.flags & FieldFlag.Hidden) !== 0; }
  setHidden(hidden: boolean): void {
    this.flags = hidden ? this.flags | FieldFlag.Hidden : this.flags & ~FieldFlag.Hidden;
  }
  get isEmpty(): boolean { return (this.flags & FieldFlag.Empty) !== 0; }
  get unreferenced(): boolean { return (this.flags & FieldFlag.Unreferenced) !== 0; }

  hasTag(tag: string): boolean { return this.tags.includes(tag); }
  annotation(key: string): string | undefined { return this.annotations.get(key); }

  /** Typedef names along the member's type chain, from its `type:` tags. */
  typeNames(): string[] {
    return this.tags.filter((t) => t.startsWith('type:')).map((t) => t.slice(5));
  }

  /** Store a value for record i (columns), or write it in place (static numeric fields). */
  set(b: Batch, i: number, v: FieldValue): void {
    const s = this.storage;
    if (s.type === 'column') {
      b.column(s.column)[i] = v;
      return;
    }
    if (s.type !== 'static') throw new Error(`field ${this.fullName} cannot be written`);
    const o = b.offs[i]! + s.offs;
    switch (this.kind) {
      case Kind.Uint64: b.buf.writeBigUInt64LE(BigInt(v as number | bigint), o); break;
      case Kind.Int64: b.buf.writeBigInt64LE(BigInt(v as number | bigint), o); break;
      case Kind.Uint32: b.buf.writeUInt32LE(Number(v), o); break;
      case Kind.Int32: b.buf.writeInt32LE(Number(v), o); break;
      case Kind.Uint16: b.buf.writeUInt16LE(Number(v), o); break;
      case Kind.Int16: b.buf.writeInt16LE(Number(v), o); break;
      case Kind.Uint8: case Kind.Bool: b.buf[o] = Number(v); break;
      case Kind.Int8: b.buf.writeInt8(Number(v), o); break;
      case Kind.CString: case Kind.String: {
        const bytes = Buffer.from(String(v));
        if (bytes.length > s.size) throw new Error(`value for ${this.fullName} longer than ${s.size} bytes`);
        bytes.copy(b.buf, o);
        b.buf.fill(0, o + bytes.length, o + s.size);
        break;
      }
      default: throw new Error(`field ${this.fullName} of kind ${this.kind} cannot be written`);
    }
  }
}

export { KindFlagArray };
