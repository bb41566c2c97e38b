// Upstream's per-event payloads, for clients that do not ask for ig's batch form (upstream's gadgetctl, ig and
// kubectl-gadget, or any client built from api.proto alone). Each event is one GadgetEvent of type
// GadgetPayload: a protobuf GadgetData (single data sources) or GadgetDataArray (array data sources) whose
// DataElement holds one byte string per payload index, laid out as GadgetInfo describes the fields:
// - payload 0: the record bytes; fields read from them (static members) sit at their offset and size in it;
// - every other non-empty field: its own payload (size 0 in GadgetInfo: the whole payload is the value), the
//   value in upstream's accessor encoding: little-endian numbers of the kind's size, strings as their bytes,
//   bytes as they are, arrays as their elements back to back.
// The client slices payload[payloadIndex][offs:offs+size] (size > 0) or takes the whole payload (size 0), as
// upstream's fieldAccessor.Get does; payload 0 is zero-padded to every static member's end so no slice runs out.
import { FieldFlag, type Batch, type DataSource, type Field } from '../datasource/index.js';
import { Kind, baseKind, isArrayKind, scalarSize } from '../datasource/kinds.js';
import { putVarint, varintLength } from './varint.js';

export interface FieldLayout { payloadIndex: number; offs: number; size: number; flags: number }

export interface UpstreamLayout {
  fields: FieldLayout[];
  /** Number of payloads of a DataElement (payload 0 included). */
  payloadCount: number;
  /** Bytes payload 0 must hold (the end of the last static member, at least the struct size). */
  recordBytes: number;
  /** The fields with a payload of their own, in payload order (payload k+1 is valueFields[k]). */
  valueFields: { pos: number; field: Field }[];
}

/** Read from the record bytes at a fixed place (not a bitfield, not replaced by an operator's getter). */
function inRecord(f: Field): boolean {
  const s = f.storage;
  return !f.isEmpty && f.readsStorage && s.type === 'static' && !s.bitSize;
}

/** The layout of a data source's fields in upstream's payloads, by field position (ds.fields order). */
export function upstreamLayout(ds: DataSource): UpstreamLayout {
  const fields: FieldLayout[] = [];
  const valueFields: UpstreamLayout['valueFields'] = [];
  let next = 1;
  let recordBytes = ds.staticSize;
  ds.fields.forEach((f, pos) => {
    const base = (f.flags & ~(FieldFlag.HasParent | FieldFlag.StaticMember)) | (f.parent ? FieldFlag.HasParent : 0);
    if (f.isEmpty || f.storage.type === 'empty' && !f.unreferenced) {
      fields.push({ payloadIndex: 0, offs: 0, size: 0, flags: base | FieldFlag.Empty });
    } else if (inRecord(f) && f.storage.type === 'static') {
      const s = f.storage;
      recordBytes = Math.max(recordBytes, s.offs + s.size);
      fields.push({ payloadIndex: 0, offs: s.offs, size: s.size, flags: base | FieldFlag.StaticMember });
    } else {
      // Unreferenced fields keep their payload (left empty) so that indexes stay those of the field table.
      fields.push({ payloadIndex: next++, offs: 0, size: 0, flags: base });
      valueFields.push({ pos, field: f });
    }
  });
  return { fields, payloadCount: next, recordBytes, valueFields };
}

/** Little-endian bytes of one value of `kind` (upstream's Put<Kind> encoding); missing values are zeros. */
function writeScalar(out: Buffer, at: number, kind: number, v: unknown): void {
  switch (kind) {
    case Kind.Bool: out[at] = v ? 1 : 0; return;
    case Kind.Int8: case Kind.Uint8: out[at] = Number(v ?? 0) & 0xff; return;
    case Kind.Int16: case Kind.Uint16: out.writeUInt16LE(Number(v ?? 0) & 0xffff, at); return;
    case Kind.Int32: case Kind.Uint32: out.writeUInt32LE(Number(v ?? 0) >>> 0, at); return;
    case Kind.Int64: case Kind.Uint64: out.writeBigUInt64LE(BigInt.asUintN(64, toBigInt(v)), at); return;
    case Kind.Float32: out.writeFloatLE(Number(v ?? 0), at); return;
    case Kind.Float64: out.writeDoubleLE(Number(v ?? 0), at); return;
  }
}

function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  return 0n;
}

const EMPTY = Buffer.alloc(0);

/** One field value as upstream's accessors read it from a payload of its own. */
export function valueBytes(kind: number, v: unknown): Buffer {
  if (kind === Kind.String || kind === Kind.CString) return v === undefined || v === null ? EMPTY : Buffer.from(typeof v === 'string' ? v : String(v));
  if (kind === Kind.Bytes) return Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : typeof v === 'string' ? Buffer.from(v) : EMPTY;
  if (isArrayKind(kind)) {
    const el = baseKind(kind);
    const es = scalarSize(el);
    if (!es) return EMPTY;
    if (Buffer.isBuffer(v) && (el === Kind.Uint8 || el === Kind.Int8)) return v;
    const items = Array.isArray(v) ? v : [];
    const out = Buffer.alloc(items.length * es);
    items.forEach((x, k) => writeScalar(out, k * es, el, x));
    return out;
  }
  const size = scalarSize(kind);
  if (!size) return EMPTY;
  const out = Buffer.alloc(size);
  writeScalar(out, 0, kind, v);
  return out;
}

// --- protobuf (hand-written: two message shapes, one of them per event on the hot path) ------------------------



/** Tag of DataElement.payload (field 1, bytes) and of GadgetData.data / GadgetDataArray.dataArray (field 3). */
const TAG_PAYLOAD = 0x0a;
const TAG_DATA = 0x1a;

/**
 * Encodes records of one data source as upstream's payloads. Built once per data source (from its layout); reads
 * values with the same field positions from any batch whose data source has this field table (also batches that
 * were encoded in ig's packet form and decoded again, for replay).
 */
export class UpstreamEncoder {
  readonly layout: UpstreamLayout;
  private readonly parts: Buffer[];

  constructor(readonly ds: DataSource) {
    this.layout = upstreamLayout(ds);
    this.parts = new Array<Buffer>(this.layout.payloadCount);
  }

  /** The DataElement message of record i of b (without its own tag and length). */
  private element(b: Batch, i: number): { parts: Buffer[]; len: number } {
    const L = this.layout;
    const parts = this.parts;
    const start = b.offs[i]!;
    const have = Math.max(0, Math.min(b.lens[i]!, b.buf.length - start));
    let rec: Buffer;
    if (have >= L.recordBytes) rec = b.buf.subarray(start, start + have);
    else {
      rec = Buffer.alloc(L.recordBytes);
      b.buf.copy(rec, 0, start, start + have);
    }
    parts[0] = rec;
    const fields = b.ds.fields;
    for (let k = 0; k < L.valueFields.length; k++) {
      const { pos, field } = L.valueFields[k]!;
      const f = fields[pos] ?? field;
      parts[k + 1] = f.unreferenced ? EMPTY : valueBytes(field.kind, f.get(b, i));
    }
    let len = 0;
    for (const p of parts) len += 1 + varintLength(p.length) + p.length;
    return { parts, len };
  }

  private static writeElement(out: Buffer, at: number, parts: Buffer[]): number {
    for (const p of parts) {
      out[at++] = TAG_PAYLOAD;
      at = putVarint(out, at, p.length);
      at += p.copy(out, at);
    }
    return at;
  }

  /** GadgetData of record i (a single data source's packet). */
  single(b: Batch, i: number): Buffer {
    const { parts, len } = this.element(b, i);
    const out = Buffer.allocUnsafe(1 + varintLength(len) + len);
    let at = 0;
    out[at++] = TAG_DATA;
    at = putVarint(out, at, len);
    UpstreamEncoder.writeElement(out, at, parts);
    return out;
  }

  /** GadgetDataArray of the live records of b (an array data source's packet). */
  array(b: Batch): Buffer {
    const chunks: Buffer[] = [];
    for (let k = 0; k < b.liveCount; k++) {
      const { parts, len } = this.element(b, b.live[k]!);
      const out = Buffer.allocUnsafe(1 + varintLength(len) + len);
      let at = 0;
      out[at++] = TAG_DATA;
      at = putVarint(out, at, len);
      UpstreamEncoder.writeElement(out, at, parts);
      chunks.push(out);
    }
    return Buffer.concat(chunks);
  }

  /** The packets of batch b as upstream sends them: one per live record (single), one for the batch (array). */
  packets(b: Batch): Buffer[] {
    if (this.ds.type === 'array') return [this.array(b)];
    const out: Buffer[] = new Array(b.liveCount);
    for (let k = 0; k < b.liveCount; k++) out[k] = this.single(b, b.live[k]!);
    return out;
  }
}
