// The receiving side of upstream's per-event payloads (upstream-wire.ts sends them): ig's client reads them when
// the daemon does not speak ig's batch form (upstream's daemon), or when asked to use upstream's form. Each
// GadgetData / GadgetDataArray becomes one Batch of a DataSource built from GadgetInfo: payload 0 is the record
// (fields read from it at their offset), every other payload a column value decoded by its field's kind, as
// upstream's accessors read it (payload[payloadIndex][offs:offs+size] when size > 0, else the whole payload).
import { Batch, DataSource, FieldFlag, readU64, readI64, type Field, type FieldValue } from '../datasource/index.js';
import { Kind, baseKind, isArrayKind, scalarSize } from '../datasource/kinds.js';
import { dataSourceFromDescription } from './wire.js';
import type { ApiDataSource } from './proto.js';

/** A malformed payload: one line naming what is wrong. */
export class PayloadError extends Error {}

interface ValueSlot { field: Field; column: number; payloadIndex: number; offs: number; size: number }

function readVarint(b: Buffer, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let k = 0; k < 8; k++) {
    if (pos >= b.length) throw new PayloadError('payload: truncated varint');
    const byte = b[pos++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, pos];
    mul *= 128;
  }
  throw new PayloadError('payload: varint longer than 8 bytes');
}

/** The length-delimited values of field `want` (wire type 2) of a protobuf message, others skipped. */
function lengthDelimited(msg: Buffer, want: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < msg.length) {
    let key: number;
    [key, pos] = readVarint(msg, pos);
    const wire = key & 7;
    if (wire === 0) { [, pos] = readVarint(msg, pos); continue; }
    if (wire === 1 || wire === 5) { pos += wire === 1 ? 8 : 4; continue; }
    if (wire !== 2) throw new PayloadError(`payload: unexpected protobuf wire type ${wire}`);
    let len: number;
    [len, pos] = readVarint(msg, pos);
    if (pos + len > msg.length) throw new PayloadError(`payload: a field of ${len} bytes, ${msg.length - pos} left`);
    if (key >>> 3 === want) out.push(msg.subarray(pos, pos + len));
    pos += len;
  }
  if (pos !== msg.length) throw new PayloadError('payload: truncated message');
  return out;
}

function scalar(b: Buffer, o: number, kind: number): number | bigint | boolean {
  switch (kind) {
    case Kind.Bool: return b[o] !== 0;
    case Kind.Int8: return b.readInt8(o);
    case Kind.Uint8: return b[o]!;
    case Kind.Int16: return b.readInt16LE(o);
    case Kind.Uint16: return b.readUInt16LE(o);
    case Kind.Int32: return b.readInt32LE(o);
    case Kind.Uint32: return b.readUInt32LE(o);
    case Kind.Int64: return readI64(b, o);
    case Kind.Uint64: return readU64(b, o);
    case Kind.Float32: return b.readFloatLE(o);
    case Kind.Float64: return b.readDoubleLE(o);
  }
  return 0;
}

/** A value in upstream's accessor encoding as the JS value ig's fields hold. */
export function decodeValue(kind: number, raw: Buffer): FieldValue {
  if (kind === Kind.String) return raw.toString('utf8');
  if (kind === Kind.CString) { const z = raw.indexOf(0); return raw.toString('utf8', 0, z < 0 ? raw.length : z); }
  if (kind === Kind.Bytes) return Buffer.from(raw);
  if (isArrayKind(kind)) {
    const el = baseKind(kind);
    const es = scalarSize(el);
    const out: (number | bigint)[] = [];
    if (es) for (let o = 0; o + es <= raw.length; o += es) out.push(scalar(raw, o, el) as number | bigint);
    return out as number[];
  }
  const size = scalarSize(kind);
  if (!size) return undefined;
  if (raw.length < size) return undefined; // upstream's accessor refuses a short value too
  return scalar(raw, 0, kind);
}

/** One data source of a run in upstream's form: its DataSource and how to fill a Batch from payloads. */
export class UpstreamSource {
  readonly ds: DataSource;
  private readonly slots: ValueSlot[] = [];
  private readonly recordBytes: number;

  constructor(t: ApiDataSource) {
    this.ds = dataSourceFromDescription(t);
    let span = 0;
    t.fields.forEach((af, pos) => {
      const f = this.ds.fields[pos]!;
      const s = f.storage;
      if (s.type === 'static') span = Math.max(span, s.offs + s.size);
      if (s.type === 'column' && !(af.flags & FieldFlag.Empty)) this.slots.push({ field: f, column: s.column, payloadIndex: af.payloadIndex, offs: af.offs, size: af.size });
    });
    this.recordBytes = span;
    this.ds.staticSize = span;
  }

  /** A GadgetData (single) or GadgetDataArray (array) message as one Batch. */
  decode(payload: Buffer): Batch {
    const elements = lengthDelimited(payload, 3).map((el) => lengthDelimited(el, 1));
    const n = elements.length;
    const offs = new Uint32Array(n);
    const lens = new Uint32Array(n);
    let at = 0;
    for (let k = 0; k < n; k++) {
      offs[k] = at;
      lens[k] = elements[k]![0]?.length ?? 0;
      at += Math.max(lens[k]!, this.recordBytes);
    }
    const buf = Buffer.alloc(at);
    for (let k = 0; k < n; k++) elements[k]![0]?.copy(buf, offs[k]!);
    const b = new Batch(this.ds, buf, offs, lens, n);
    for (const s of this.slots) {
      const col = b.column(s.column);
      for (let k = 0; k < n; k++) {
        const p = elements[k]![s.payloadIndex];
        if (!p) { col[k] = undefined; continue; }
        const raw = s.size > 0 ? p.subarray(s.offs, s.offs + s.size) : p;
        col[k] = decodeValue(s.field.kind, raw);
      }
    }
    return b;
  }
}
