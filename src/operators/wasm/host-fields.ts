// Host functions for field accessors: fieldGetScalar / fieldGetBuffer / fieldSet / fieldAddTag with upstream's
// kind numbers. Scalars cross as i64 (floats as their bit patterns). Reads of static fields go straight to the
// record's bytes through an accessor compiled once per (field, kind); nothing is copied per event.
import type { Batch, Field, FieldValue } from '../../datasource/index.js';
import { Kind } from '../../datasource/kinds.js';
import { dataOf } from './host-datasource.js';
import { DATA_ARRAY_FLAG, type FieldHandle } from './handles.js';
import { handleOf, type HostState } from './state.js';

type ScalarGet = (b: Batch, i: number) => bigint;

const f32 = new Float32Array(1);
const f32u = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const f64u = new BigUint64Array(f64.buffer);

/** A JS value of a field as the i64 the guest asked for (kind), or undefined if it has no scalar form. */
function encodeScalar(v: FieldValue, kind: number): bigint | undefined {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'number') {
    if (kind === Kind.Float32) { f32[0] = v; return BigInt(f32u[0]!); }
    if (kind === Kind.Float64) { f64[0] = v; return f64u[0]!; }
    return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  }
  if (typeof v === 'bigint') {
    if (kind === Kind.Float32) { f32[0] = Number(v); return BigInt(f32u[0]!); }
    if (kind === Kind.Float64) { f64[0] = Number(v); return f64u[0]!; }
    return v;
  }
  return undefined;
}

const MAX_SAFE = 2n ** 53n;
const MIN_SAFE = -(2n ** 53n);

/** The guest's i64 as the JS value a field of `kind` holds (the form column fields and Field.set use). */
function decodeScalar(v: bigint, kind: number): FieldValue {
  // Most values are small: one exact conversion and number arithmetic, no BigInt allocated.
  if (v >= MIN_SAFE && v <= MAX_SAFE) {
    const n = Number(v);
    switch (kind) {
      case Kind.Bool: return n !== 0;
      case Kind.Int8: return (n << 24) >> 24;
      case Kind.Int16: return (n << 16) >> 16;
      case Kind.Int32: return n | 0;
      case Kind.Uint8: return n & 0xff;
      case Kind.Uint16: return n & 0xffff;
      case Kind.Uint32: return n >>> 0;
      case Kind.Int64: return n;
      case Kind.Uint64: if (n >= 0) return n; break;
      default: break;
    }
  }
  switch (kind) {
    case Kind.Bool: return v !== 0n;
    case Kind.Int8: return Number(BigInt.asIntN(8, v));
    case Kind.Int16: return Number(BigInt.asIntN(16, v));
    case Kind.Int32: return Number(BigInt.asIntN(32, v));
    case Kind.Uint8: return Number(BigInt.asUintN(8, v));
    case Kind.Uint16: return Number(BigInt.asUintN(16, v));
    case Kind.Uint32: return v >= 0n && v <= 0xffffffffn ? Number(v) : Number(BigInt.asUintN(32, v));
    // i64 arrives signed: only negative values need a conversion to unsigned.
    case Kind.Int64: return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
    case Kind.Uint64: { const x = v < 0n ? BigInt.asUintN(64, v) : v; return x <= MAX_SAFE ? Number(x) : x; }
    case Kind.Float32: f32u[0] = Number(BigInt.asUintN(32, v)); return f32[0]!;
    case Kind.Float64: f64u[0] = BigInt.asUintN(64, v); return f64[0]!;
    default: return undefined;
  }
}

/** A direct reader for a static, non-bitfield field read as its own kind; undefined means "use the generic path". */
function staticScalar(field: Field, kind: number): ScalarGet | undefined {
  const st = field.storage;
  if (st.type !== 'static' || st.bitSize || kind !== field.kind) return undefined;
  const o = st.offs;
  switch (kind) {
    case Kind.Bool: return (b, i) => (b.buf[b.offs[i]! + o] ? 1n : 0n);
    case Kind.Int8: return (b, i) => BigInt(b.buf.readInt8(b.offs[i]! + o));
    case Kind.Uint8: return (b, i) => BigInt(b.buf[b.offs[i]! + o]!);
    case Kind.Int16: return (b, i) => BigInt(b.buf.readInt16LE(b.offs[i]! + o));
    case Kind.Uint16: return (b, i) => BigInt(b.buf.readUInt16LE(b.offs[i]! + o));
    case Kind.Int32: return (b, i) => BigInt(b.buf.readInt32LE(b.offs[i]! + o));
    case Kind.Uint32: case Kind.Float32: return (b, i) => BigInt(b.buf.readUInt32LE(b.offs[i]! + o));
    case Kind.Int64: return (b, i) => b.buf.readBigInt64LE(b.offs[i]! + o);
    case Kind.Uint64: case Kind.Float64: return (b, i) => b.buf.readBigUInt64LE(b.offs[i]! + o);
    default: return undefined;
  }
}

type ScalarSet = (b: Batch, i: number, v: bigint) => void;
type Compiled = FieldHandle & { getters?: (ScalarGet | null | undefined)[]; setters?: (ScalarSet | null | undefined)[] };

function scalarGetter(fh: Compiled, kind: number): ScalarGet | null {
  const cache = (fh.getters ??= []);
  let g = cache[kind];
  if (g === undefined) {
    const field = fh.field;
    if (kind === Kind.String || kind === Kind.CString || kind === Kind.Bytes || kind <= Kind.Invalid || kind > Kind.Bytes) g = null;
    else {
      g = staticScalar(field, kind) ?? ((b, i) => {
        const x = encodeScalar(field.get(b, i), kind);
        if (x === undefined) throw new ScalarError();
        return x;
      });
    }
    cache[kind] = g;
  }
  return g;
}

class ScalarError extends Error {}

/**
 * A direct writer for a field the module (or another operator) keeps in a column, for a string or scalar kind:
 * what Field.set does for such a field, without its dispatch per call. Other storage takes the generic path.
 */
function columnSetter(fh: Compiled, kind: number, mem: HostState['mem']): ScalarSet | null {
  const cache = (fh.setters ??= []);
  let w = cache[kind];
  if (w === undefined) {
    const st = fh.field.storage;
    w = null;
    if (st.type === 'column') {
      const c = st.column;
      if (kind === Kind.String || kind === Kind.CString) w = (b, i, v) => { (b.columns[c] ?? b.column(c))[i] = mem.string(v, 'fieldSet'); };
      else if (kind > Kind.Invalid && kind < Kind.String) w = (b, i, v) => { (b.columns[c] ?? b.column(c))[i] = decodeScalar(v, kind); };
    }
    cache[kind] = w;
  }
  return w;
}

export function fieldFunctions(s: HostState) {
  const { mem, ctx, handles } = s;
  const warn = (msg: string) => ctx.log.debug(`${s.who}: ${msg}`);

  return {
    fieldGetScalar(fh: number, dh: number, kind: number, errPtr: number): bigint {
      // The hot path: a field handle and a record handle straight from the table.
      const fo = handles.get(fh);
      const dobj = (dh & DATA_ARRAY_FLAG) === 0 ? handles.get(dh) : undefined;
      if (fo?.t === 'field' && dobj?.t === 'data') {
        const g = (fo as Compiled).getters?.[kind];
        if (g) return g(dobj.batch, dobj.index);
      }
      const f = handleOf(s, fh, 'field', 'fieldGetScalar') as Compiled | undefined;
      const d = f && dataOf(s, dh, 'fieldGetScalar');
      if (!f || !d) { mem.writeErr(errPtr, 1, 'fieldGetScalar'); return 0n; }
      const g = scalarGetter(f, kind);
      if (!g) { warn(`fieldGetScalar: kind ${kind} of ${f.field.fullName} has no scalar form (use fieldGetBuffer)`); mem.writeErr(errPtr, 1, 'fieldGetScalar'); return 0n; }
      try {
        return g(d.batch, d.index);
      } catch (e) {
        if (!(e instanceof ScalarError)) throw e;
        mem.writeErr(errPtr, 1, 'fieldGetScalar');
        return 0n;
      }
    },

    fieldGetBuffer(fh: number, dh: number, kind: number, dst: bigint): number {
      const f = handleOf(s, fh, 'field', 'fieldGetBuffer');
      const d = f && dataOf(s, dh, 'fieldGetBuffer');
      if (!f || !d) return -1;
      if (kind !== Kind.String && kind !== Kind.CString && kind !== Kind.Bytes) { warn(`fieldGetBuffer: kind ${kind} is not a string or bytes`); return -1; }
      const field = f.field;
      const st = field.storage;
      const b = d.batch;
      if (st.type === 'static' && !st.bitSize) {
        const start = b.offs[d.index]! + st.offs;
        let end = start + st.size;
        // As upstream: Kind_Bytes gives a char array's raw bytes (its SDKs ask for bytes and cut at the NUL
        // themselves; trace_exec's module reads its NUL-separated args so); Kind_String stops at the NUL.
        if (kind !== Kind.Bytes && (field.kind === Kind.String || field.kind === Kind.CString)) {
          const nul = b.buf.indexOf(0, start);
          if (nul >= 0 && nul < end) end = nul;
        }
        return mem.writeRange(b.buf, start, end, dst, 'fieldGetBuffer');
      }
      const v = field.get(b, d.index);
      let bytes: Buffer;
      if (v === undefined || v === null) bytes = Buffer.alloc(0);
      else if (Buffer.isBuffer(v)) bytes = v;
      else if (typeof v === 'string') bytes = Buffer.from(v);
      else bytes = Buffer.from(String(v));
      return mem.write(bytes, dst, 'fieldGetBuffer') ? bytes.length : -1;
    },

    fieldSet(fh: number, dh: number, kind: number, value: bigint): number {
      let f = handles.get(fh);
      let d = (dh & DATA_ARRAY_FLAG) === 0 ? handles.get(dh) : undefined;
      if (f?.t === 'field' && d?.t === 'data') {
        // The hot path: a column the module added, written through a setter made once per (field, kind).
        const w = (f as Compiled).setters?.[kind] ?? columnSetter(f as Compiled, kind, mem);
        if (w) { w(d.batch, d.index, value); return 0; }
      } else {
        f = handleOf(s, fh, 'field', 'fieldSet');
        d = f && dataOf(s, dh, 'fieldSet');
      }
      if (f?.t !== 'field' || d?.t !== 'data') return 1;
      let v: FieldValue;
      if (kind === Kind.String || kind === Kind.CString) v = mem.string(value, 'fieldSet');
      else if (kind === Kind.Bytes) v = Buffer.from(mem.slice(value, 'fieldSet'));
      else if (kind > Kind.Invalid && kind < Kind.String) v = decodeScalar(value, kind);
      else { warn(`fieldSet: unknown kind ${kind}`); return 1; }
      try {
        f.field.set(d.batch, d.index, v);
      } catch (e) {
        warn(`fieldSet ${f.field.fullName}: ${(e as Error).message}`);
        return 1;
      }
      return 0;
    },

    fieldAddTag(fh: number, tag: bigint): number {
      const f = handleOf(s, fh, 'field', 'fieldAddTag');
      if (!f) return 1;
      const t = mem.string(tag, 'fieldAddTag');
      if (!f.field.tags.includes(t)) f.field.tags.push(t);
      return 0;
    },
  };
}
