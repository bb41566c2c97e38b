// The packet codec: a batch leaves the process as bytes and comes back as a Batch of a DataSource with the same
// fields, so that the same subscribers (json/columns encoders, filter, sort, ...) read and print it identically.
// Used by the gRPC daemon, record/replay and WASM. The format is documented in docs/packet-format.md.
//
// A stream is a sequence of frames: a field table once per data source, then batches that refer to it by number.
// Record bytes travel as they are (static fields are read from them on the other side, at the same offsets); every
// other field a subscriber needs (columns, derived values, static members whose value an operator computes) is
// materialised: its value for each record is written after the records, typed (number, bigint, string, ...).
import { Batch } from './batch.js';
import { DataSource, type DataSourceType } from './datasource.js';
import { Field, FieldFlag, type FieldValue, type Storage } from './field.js';

/** Bytes 0-1 of every frame. */
export const PACKET_MAGIC = Buffer.from('ig', 'latin1');
/** The format version this code writes and reads (byte 2 of every frame). */
export const PACKET_VERSION = 1;
export const FRAME_HEADER_SIZE = 8;
/** Frame types (byte 3). */
export const FrameType = { FieldTable: 1, Batch: 2 } as const;

/** A frame is at most this long (a batch of the native reader is at most 1 MiB of records, plus values). */
export const MAX_FRAME_SIZE = 256 * 1024 * 1024;
const MAX_FIELDS = 65536;
/** Decoded records of one batch (zero-filled to their length) take at most this much memory. */
const MAX_DECODED_RECORD_BYTES = 512 * 1024 * 1024;

/** How a field's value travels in a batch frame. */
export const Carry = {
  /** Not carried: a parent that only groups (Empty), a field nobody reads, or one not selected. */
  None: 0,
  /** Read from the record bytes at (offs, size[, bitOffset, bitSize]). */
  Bytes: 1,
  /** One typed value per record, after the records. */
  Value: 2,
} as const;

/** Value tags inside a batch frame's value section. */
const Tag = {
  Undefined: 0, Null: 1, False: 2, True: 3, UInt: 4, NegInt: 5, F64: 6, BigUInt: 7, BigNegInt: 8,
  String: 9, Bytes: 10, Array: 11,
} as const;

/** Bad input or an unencodable value. One line: control characters of names read from the input are escaped. */
export class PacketError extends Error {
  constructor(message: string) {
    super(message.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

class Writer {
  private buf: Buffer;
  pos = 0;
  constructor(size = 4096) { this.buf = Buffer.allocUnsafe(size); }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void { this.room(1); this.buf[this.pos++] = v; }
  u32(v: number): void { this.room(4); this.buf.writeUInt32LE(v, this.pos); this.pos += 4; }
  patchU32(at: number, v: number): void { this.buf.writeUInt32LE(v, at); }
  f64(v: number): void { this.room(8); this.buf.writeDoubleLE(v, this.pos); this.pos += 8; }

  /** LEB128 of a non-negative safe integer. */
  uvar(v: number): void {
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** LEB128 of a non-negative bigint. */
  bigUvar(v: bigint): void {
    while (v >= 0x80n) {
      this.u8(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.u8(Number(v));
  }

  /** Zigzag LEB128 of a safe integer. */
  svar(v: number): void { this.uvar(v < 0 ? -2 * v - 1 : 2 * v); }

  bytes(b: Buffer | Uint8Array, start = 0, end = b.length): void {
    const n = end - start;
    this.room(n);
    this.buf.set(b.subarray(start, end), this.pos);
    this.pos += n;
  }

  zeros(n: number): void { this.room(n); this.buf.fill(0, this.pos, this.pos + n); this.pos += n; }

  str(s: string): void {
    const len = s.length;
    if (len < 64) {
      // Short ASCII (most names, empty enrichment fields) byte by byte: cheaper than byteLength + write.
      this.room(len + 1);
      const buf = this.buf;
      let at = this.pos + 1;
      let k = 0;
      for (; k < len; k++) { const c = s.charCodeAt(k); if (c > 0x7f) break; buf[at++] = c; }
      if (k === len) { buf[this.pos] = len; this.pos = at; return; }
    }
    const n = Buffer.byteLength(s);
    this.uvar(n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  strMap(m: Map<string, string>): void {
    this.uvar(m.size);
    for (const [k, v] of m) { this.str(k); this.str(v); }
  }

  strList(l: readonly string[]): void {
    this.uvar(l.length);
    for (const s of l) this.str(s);
  }

  /** Start a frame: the header with a length to fill in by end(). */
  begin(type: number): number {
    const at = this.pos;
    this.room(FRAME_HEADER_SIZE);
    PACKET_MAGIC.copy(this.buf, this.pos);
    this.buf[this.pos + 2] = PACKET_VERSION;
    this.buf[this.pos + 3] = type;
    this.pos += FRAME_HEADER_SIZE;
    return at;
  }

  end(frameStart: number): void {
    const len = this.pos - frameStart - FRAME_HEADER_SIZE;
    if (len > MAX_FRAME_SIZE) throw new PacketError(`packet: frame of ${len} bytes exceeds the ${MAX_FRAME_SIZE}-byte limit`);
    this.buf.writeUInt32LE(len, frameStart + 4);
  }

  result(): Buffer { return Buffer.from(this.buf.subarray(0, this.pos)); }
}

/**
 * The end of buf[start, end) without its trailing zero bytes. `words` is buf as 32-bit words when buf starts at a
 * word boundary: a typed-array read per 4 bytes costs a fraction of readUInt32LE's (the empty tails of char
 * arrays are hundreds of bytes a record).
 */
function trimZeros(buf: Buffer, start: number, end: number, words?: Uint32Array): number {
  if (words) {
    while (end > start && (end & 3) !== 0) { if (buf[end - 1] !== 0) return end; end--; }
    let w = end >>> 2;
    const first = (start + 3) >>> 2;
    while (w > first && words[w - 1] === 0) w--;
    end = Math.max(start, w << 2);
  } else {
    while (end - start >= 8 && buf.readUInt32LE(end - 4) === 0 && buf.readUInt32LE(end - 8) === 0) end -= 8;
  }
  while (end > start && buf[end - 1] === 0) end--;
  return end;
}

/** Zero runs shorter than this stay inside literals (a segment header costs 2-4 bytes). */
const MIN_ZERO_RUN = 16;

/**
 * buf[start, end) as segments (uvar literal length, literal bytes, uvar zero-run length), the last one with a
 * zero-run length of 0. Scans 4 bytes at a time; a run starts at a 4-byte step.
 */
function writeSegments(w: Writer, buf: Buffer, start: number, end: number, words?: Uint32Array): void {
  let lit = start;
  let p = start;
  if (words && (start & 3) === 0) {
    // The same scan on 32-bit words (start is word-aligned, so p is too).
    while (p + MIN_ZERO_RUN <= end) {
      const i = p >>> 2;
      if (words[i] !== 0 || words[i + 1] !== 0 || words[i + 2] !== 0 || words[i + 3] !== 0) { p += 4; continue; }
      let q = p + MIN_ZERO_RUN;
      while (q + 4 <= end && words[q >>> 2] === 0) q += 4;
      w.uvar(p - lit);
      w.bytes(buf, lit, p);
      w.uvar(q - p);
      lit = p = q;
    }
  } else {
    while (p + MIN_ZERO_RUN <= end) {
      if (buf.readUInt32LE(p) !== 0 || buf.readUInt32LE(p + 4) !== 0 || buf.readUInt32LE(p + 8) !== 0 || buf.readUInt32LE(p + 12) !== 0) {
        p += 4;
        continue;
      }
      let q = p + MIN_ZERO_RUN;
      while (q + 4 <= end && buf.readUInt32LE(q) === 0) q += 4;
      w.uvar(p - lit);
      w.bytes(buf, lit, p);
      w.uvar(q - p);
      lit = p = q;
    }
  }
  w.uvar(end - lit);
  w.bytes(buf, lit, end);
  w.uvar(0);
}

function isSafeUint(v: number): boolean { return Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0); }

function writeValue(w: Writer, v: unknown, f: Field, depth = 0): void {
  switch (typeof v) {
    case 'undefined': w.u8(Tag.Undefined); return;
    case 'boolean': w.u8(v ? Tag.True : Tag.False); return;
    case 'number':
      if (isSafeUint(v)) { w.u8(Tag.UInt); w.uvar(v); return; }
      if (Number.isSafeInteger(v) && v < 0) { w.u8(Tag.NegInt); w.uvar(-v); return; }
      w.u8(Tag.F64); w.f64(v); return;
    case 'bigint':
      if (v >= 0n) { w.u8(Tag.BigUInt); w.bigUvar(v); } else { w.u8(Tag.BigNegInt); w.bigUvar(-v); }
      return;
    case 'string': w.u8(Tag.String); w.str(v); return;
    case 'object':
      if (v === null) { w.u8(Tag.Null); return; }
      if (Buffer.isBuffer(v) || v instanceof Uint8Array) { w.u8(Tag.Bytes); w.uvar(v.length); w.bytes(v); return; }
      if (Array.isArray(v) && depth === 0) {
        w.u8(Tag.Array);
        w.uvar(v.length);
        for (const e of v) writeValue(w, e, f, 1);
        return;
      }
  }
  throw new PacketError(`packet: field ${f.fullName}: a value of type ${Array.isArray(v) ? 'nested array' : typeof v} cannot be encoded`);
}

/**
 * Whether a field's value is what its storage holds in the record bytes. An operator may replace the reader of a
 * static member (joined exec arguments): then the value, not the bytes, is what subscribers see.
 */
function readsRecordBytes(f: Field): boolean {
  return f.readsStorage;
}

function carryOf(f: Field, wanted: Set<Field> | undefined): number {
  if (f.isEmpty || f.storage.type === 'empty') return Carry.None;
  if (readsRecordBytes(f)) return Carry.Bytes;
  if (f.unreferenced || (wanted && !wanted.has(f))) return Carry.None;
  return Carry.Value;
}

/** A data source's table as an encoder sent it: its number, the fields whose values follow the records, in order. */
export interface SentTable { readonly id: number; readonly valueFields: readonly Field[]; readonly recordBytes: number }

/** One value as a batch frame carries it (tag and bytes): what a native frame writer stores per key. */
export function encodeValue(v: unknown, f: Field): Buffer {
  const w = new Writer(64);
  writeValue(w, v, f);
  return w.result();
}

export interface PacketEncoderOptions {
  /**
   * The fields whose values a data source's subscribers read (e.g. the receiving side's output columns). Fields read
   * from record bytes always travel; of the others only these. Default: every referenced field.
   */
  fields?: (ds: DataSource) => Field[] | undefined;
}

/**
 * Encodes batches into frames. Stateful per stream: the first batch of a data source is preceded by its field
 * table; later batches refer to it by number. Use one encoder per receiver (a new client needs the tables again).
 */
export class PacketEncoder {
  private readonly tables = new Map<DataSource, SentTable>();
  private nextId = 0;
  private readonly w = new Writer(1 << 16);

  constructor(private readonly opts: PacketEncoderOptions = {}) {}

  /** Frames for the live records of `b` (in live order): the field table if not sent yet, then the batch. */
  encode(b: Batch): Buffer {
    const w = this.w;
    w.pos = 0;
    let t = this.tables.get(b.ds);
    if (!t) {
      t = this.writeTable(w, b.ds);
      this.tables.set(b.ds, t);
    }
    this.writeBatch(w, b, t);
    return w.result();
  }

  /** The table this encoder sent for `ds` (undefined before its first batch). */
  tableOf(ds: DataSource): SentTable | undefined { return this.tables.get(ds); }

  /** Send the field table of `ds` again before its next batch (e.g. after fields were added or dropped). */
  invalidate(ds: DataSource): void { this.tables.delete(ds); }

  private writeTable(w: Writer, ds: DataSource): SentTable {
    const wantedList = this.opts.fields?.(ds);
    const wanted = wantedList ? new Set(wantedList) : undefined;
    const id = this.nextId++;
    const frame = w.begin(FrameType.FieldTable);
    w.uvar(id);
    w.str(ds.name);
    w.u8(ds.type === 'array' ? 1 : 0);
    w.uvar(ds.staticSize);
    w.strMap(ds.annotations);
    w.strList(ds.tags);
    if (ds.fields.length > MAX_FIELDS) throw new PacketError(`packet: data source ${ds.name} has ${ds.fields.length} fields (at most ${MAX_FIELDS})`);
    w.uvar(ds.fields.length);
    const valueFields: Field[] = [];
    let recordBytes = ds.staticSize;
    for (const f of ds.fields) {
      const carry = carryOf(f, wanted);
      w.str(f.name);
      w.str(f.fullName);
      w.uvar(f.kind >>> 0);
      w.uvar(f.flags >>> 0);
      w.svar(Number.isSafeInteger(f.order) ? f.order : 0);
      w.uvar(f.parent ? f.parent.index + 1 : 0);
      w.strList(f.tags);
      w.strMap(f.annotations);
      w.u8(carry);
      if (carry === Carry.Bytes && f.storage.type === 'static') {
        const s = f.storage;
        w.uvar(s.offs);
        w.uvar(s.size);
        w.uvar(s.bitOffset ?? 0);
        w.uvar(s.bitSize ?? 0);
        recordBytes = Math.max(recordBytes, s.offs + s.size);
      } else if (carry === Carry.Value) {
        valueFields.push(f);
      }
    }
    w.end(frame);
    return { id, valueFields, recordBytes };
  }

  private writeBatch(w: Writer, b: Batch, t: SentTable): void {
    const frame = w.begin(FrameType.Batch);
    w.uvar(t.id);
    const n = b.liveCount;
    w.uvar(n);
    const words = (b.buf.byteOffset & 3) === 0 ? new Uint32Array(b.buf.buffer, b.buf.byteOffset, b.buf.length >>> 2) : undefined;
    // Records: (length, encoded length, encoding). A record occupies max(length, the bytes its static fields span)
    // on the other side, zero-filled: a truncated record reads no byte outside it. Its bytes travel as segments of
    // literal bytes and zero runs: unused parts of char arrays and empty paths cost a few bytes, not hundreds.
    for (let k = 0; k < n; k++) {
      const i = b.live[k]!;
      const len = b.lens[i]!;
      const start = b.offs[i]!;
      const end = start + Math.max(0, Math.min(Math.max(len, t.recordBytes), b.buf.length - start));
      w.uvar(len);
      const lenAt = w.pos;
      w.u32(0);
      writeSegments(w, b.buf, start, trimZeros(b.buf, start, end, words), words);
      w.patchU32(lenAt, w.pos - lenAt - 4);
    }
    // Values: field by field (columns compress and decode better than rows).
    for (const f of t.valueFields) {
      const get = f.get;
      for (let k = 0; k < n; k++) writeValue(w, get(b, b.live[k]!), f);
    }
    w.end(frame);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/**
 * What is being read, for error messages only: a string, or a label whose text is built when a message needs it
 * (per record and value, building the text eagerly cost more than decoding the value).
 */
type Reading = string | { toString(): string };

/** "value of <field> for record <k>", with k set by the caller as it goes. */
class ValueLabel {
  k = 0;
  constructor(private readonly field: string) {}
  toString(): string { return `value of ${this.field} for record ${this.k}`; }
}

const recordLabelOf = { k: 0, toString(): string { return `record ${this.k} bytes`; } };
function recordLabel(k: number): Reading { recordLabelOf.k = k; return recordLabelOf; }

class Reader {
  pos: number;
  constructor(private readonly buf: Buffer, start: number, readonly end: number, private readonly what: string) { this.pos = start; }

  fail(msg: string): never { throw new PacketError(`packet: ${this.what}: ${msg}`); }

  need(n: number, reading: Reading): void {
    if (n > this.end - this.pos) this.fail(`truncated at byte ${this.pos} (reading ${reading}: ${n} bytes needed, ${this.end - this.pos} left)`);
  }

  u8(reading: Reading): number { this.need(1, reading); return this.buf[this.pos++]!; }
  u32(reading: Reading): number { this.need(4, reading); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
  skip(n: number, reading: Reading): void { this.need(n, reading); this.pos += n; }
  copyTo(dst: Buffer, at: number, n: number, reading: Reading): void {
    this.need(n, reading);
    this.buf.copy(dst, at, this.pos, this.pos + n);
    this.pos += n;
  }
  f64(reading: Reading): number { this.need(8, reading); const v = this.buf.readDoubleLE(this.pos); this.pos += 8; return v; }

  uvar(reading: Reading): number {
    let v = 0;
    let mul = 1;
    for (let k = 0; ; k++) {
      const b = this.u8(reading);
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) break;
      mul *= 0x80;
      if (k >= 7) this.fail(`${reading}: variable-length integer longer than 8 bytes at byte ${this.pos}`);
    }
    if (!Number.isSafeInteger(v)) this.fail(`${reading}: integer ${v} out of range`);
    return v;
  }

  bigUvar(reading: Reading): bigint {
    let v = 0n;
    let shift = 0n;
    for (let k = 0; ; k++) {
      const b = this.u8(reading);
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
      if (k >= 20) this.fail(`${reading}: big integer longer than 21 bytes at byte ${this.pos}`);
    }
  }

  svar(reading: Reading): number {
    const z = this.uvar(reading);
    return z % 2 ? -(z + 1) / 2 : z / 2;
  }

  /** A count of items each at least `minItemBytes` long: bounded by what is left, so no huge allocation. */
  count(reading: Reading, minItemBytes: number): number {
    const n = this.uvar(reading);
    if (n * minItemBytes > this.end - this.pos) this.fail(`${reading}: ${n} items cannot fit in the ${this.end - this.pos} bytes left`);
    return n;
  }

  bytes(n: number, reading: Reading): Buffer {
    this.need(n, reading);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  str(reading: Reading): string {
    const n = this.uvar(reading);
    if (n === 0) return '';
    this.need(n, reading);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  strMap(reading: Reading): Map<string, string> {
    const n = this.count(reading, 2);
    const m = new Map<string, string>();
    for (let k = 0; k < n; k++) { const key = this.str(reading); m.set(key, this.str(reading)); }
    return m;
  }

  strList(reading: Reading): string[] {
    const n = this.count(reading, 1);
    const out: string[] = new Array(n);
    for (let k = 0; k < n; k++) out[k] = this.str(reading);
    return out;
  }
}

/** Segments of record k into dst[at, end), reading up to `stop` (see writeSegments). */
function readSegments(r: Reader, dst: Buffer, at: number, end: number, stop: number, k: number): void {
  const reading = recordLabel(k);
  for (;;) {
    const lit = r.uvar(reading);
    if (lit > end - at) r.fail(`record ${k}: a segment of ${lit} bytes, ${end - at} left in the record`);
    r.copyTo(dst, at, lit, reading);
    at += lit;
    const zeros = r.uvar(reading);
    if (zeros === 0) break;
    if (zeros > end - at) r.fail(`record ${k}: a zero run of ${zeros} bytes, ${end - at} left in the record`);
    at += zeros;
  }
  if (r.pos !== stop) r.fail(`record ${k}: encoded length does not match its segments`);
}

function readValue(r: Reader, reading: Reading, depth = 0): FieldValue {
  const tag = r.u8(reading);
  switch (tag) {
    case Tag.Undefined: return undefined;
    case Tag.Null: return null;
    case Tag.False: return false;
    case Tag.True: return true;
    case Tag.UInt: return r.uvar(reading);
    case Tag.NegInt: return -r.uvar(reading);
    case Tag.F64: return r.f64(reading);
    case Tag.BigUInt: return r.bigUvar(reading);
    case Tag.BigNegInt: return -r.bigUvar(reading);
    case Tag.String: return r.str(reading);
    case Tag.Bytes: return Buffer.from(r.bytes(r.uvar(reading), reading));
    case Tag.Array: {
      if (depth > 0) r.fail(`${reading}: nested array`);
      const n = r.count(reading, 1);
      const out: unknown[] = new Array(n);
      for (let k = 0; k < n; k++) out[k] = readValue(r, reading, 1);
      return out as number[];
    }
    default: return r.fail(`${reading}: unknown value tag ${tag}`);
  }
}

interface ReceivedTable { ds: DataSource; valueFields: Field[]; recordBytes: number }

/** How a received data source's batches are laid out: the value-carried fields in frame order, the record bytes its static fields span. */
export interface ReceivedLayout { readonly valueFields: readonly Field[]; readonly recordBytes: number }

/** Layouts of data sources a PacketDecoder built (for renderers that read batch frames as bytes). */
const receivedLayouts = new WeakMap<DataSource, ReceivedLayout>();

/** The layout of a data source built from a received field table, or undefined for any other data source. */
export function receivedLayout(ds: DataSource): ReceivedLayout | undefined { return receivedLayouts.get(ds); }

/**
 * A batch frame handed to a raw reader before it is decoded: its body is frame[start, end) (after the header).
 * `decode()` gives the Batch as the decoder would have (for records the reader cannot handle). Return true when
 * handled (the decoder then does not decode it), false to have it decoded and returned as usual.
 */
export type RawBatchReader = (ds: DataSource, frame: Buffer, start: number, end: number, decode: () => Batch) => boolean;

export interface DecodedBatch {
  ds: DataSource;
  batch: Batch;
}

/**
 * Decodes frames. Stateful per stream: keeps the field tables it has seen. A field table builds a new DataSource
 * (reported once through `onDataSource`, so that subscribers can attach before its first batch); a table sent
 * again under the same number replaces the earlier one.
 */
export class PacketDecoder {
  private readonly tables = new Map<number, ReceivedTable>();

  constructor(private readonly opts: { onDataSource?: (ds: DataSource) => void } = {}) {}

  /** The data source of table `id`, once its table arrived. */
  dataSource(id: number): DataSource | undefined { return this.tables.get(id)?.ds; }

  /**
   * Decode every frame in `buf` (whole frames only); returns the batches in order. `raw`, when given, sees each
   * batch frame first and may take it as bytes (see RawBatchReader).
   */
  decode(buf: Buffer, raw?: RawBatchReader): DecodedBatch[] {
    const out: DecodedBatch[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const len = frameLength(buf, pos);
      if (len === undefined) throw new PacketError(`packet: truncated frame header at byte ${pos} (${buf.length - pos} of ${FRAME_HEADER_SIZE} bytes)`);
      if (pos + len > buf.length) throw new PacketError(`packet: truncated frame at byte ${pos} (${buf.length - pos} of ${len} bytes)`);
      const type = buf[pos + 3]!;
      const start = pos + FRAME_HEADER_SIZE;
      const end = pos + len;
      if (type === FrameType.FieldTable) this.readTable(new Reader(buf, start, end, `field table at byte ${pos}`));
      else if (type === FrameType.Batch) {
        const what = `batch at byte ${pos}`;
        const t = raw ? this.tables.get(new Reader(buf, start, end, what).uvar('data source number')) : undefined;
        if (!t || !raw!(t.ds, buf, start, end, () => this.readBatch(new Reader(buf, start, end, what)).batch)) out.push(this.readBatch(new Reader(buf, start, end, what)));
      }
      else throw new PacketError(`packet: unknown frame type ${type} at byte ${pos}`);
      pos = end;
    }
    return out;
  }

  private readTable(r: Reader): void {
    const id = r.uvar('data source number');
    const name = r.str('data source name');
    const typeByte = r.u8('data source type');
    if (typeByte > 1) r.fail(`data source ${name}: unknown type ${typeByte}`);
    const type: DataSourceType = typeByte === 1 ? 'array' : 'single';
    const ds = new DataSource(name, type);
    ds.staticSize = r.uvar('static size');
    for (const [k, v] of r.strMap('data source annotations')) ds.annotations.set(k, v);
    ds.tags.push(...r.strList('data source tags'));
    const nFields = r.count('field count', 9);
    if (nFields > MAX_FIELDS) r.fail(`data source ${name}: ${nFields} fields (at most ${MAX_FIELDS})`);
    const valueFields: Field[] = [];
    let recordBytes = ds.staticSize;
    for (let k = 0; k < nFields; k++) {
      const what = `data source ${name}: field ${k}`;
      const fname = r.str(`${what} name`);
      const fullName = r.str(`${what} full name`);
      const kind = r.uvar(`${what} kind`);
      let flags = r.uvar(`${what} flags`);
      const order = r.svar(`${what} order`);
      const parentRef = r.uvar(`${what} parent`);
      if (parentRef > k) r.fail(`${what} (${fullName}): parent ${parentRef - 1} is not an earlier field`);
      const parent = parentRef ? ds.fields[parentRef - 1] : undefined;
      const tags = r.strList(`${what} tags`);
      const annotations = r.strMap(`${what} annotations`);
      const carry = r.u8(`${what} carry`);
      let storage: Storage | undefined;
      if (carry === Carry.Bytes) {
        const offs = r.uvar(`${what} offset`);
        const size = r.uvar(`${what} size`);
        const bitOffset = r.uvar(`${what} bit offset`);
        const bitSize = r.uvar(`${what} bit size`);
        if (offs + size > MAX_FRAME_SIZE) r.fail(`${what} (${fullName}): offset ${offs} + size ${size} larger than any frame`);
        if (bitSize > 32 || bitOffset + bitSize > 8 * size) r.fail(`${what} (${fullName}): bitfield ${bitOffset}+${bitSize} does not fit in ${size} bytes`);
        storage = bitSize ? { type: 'static', offs, size, bitOffset, bitSize } : { type: 'static', offs, size };
        recordBytes = Math.max(recordBytes, offs + size);
      } else if (carry === Carry.None) {
        storage = { type: 'empty' };
        // Not carried and not a grouping parent: nobody on this side may read it.
        if (!(flags & FieldFlag.Empty)) flags |= FieldFlag.Unreferenced;
      } else if (carry !== Carry.Value) {
        r.fail(`${what} (${fullName}): unknown carry ${carry}`);
      }
      if (ds.fields.some((f) => f.fullName === fullName)) r.fail(`${what}: duplicate field ${fullName}`);
      // As sent: the sender applied templates and gadget.yaml configuration already.
      const f = ds.addField({ name: fname, fullName, kind, flags: flags & ~FieldFlag.HasParent, order, parent, tags, annotations: Object.fromEntries(annotations), ...(storage ? { storage } : {}) }, { asIs: true });
      if (carry === Carry.Value) valueFields.push(f);
    }
    if (r.pos !== r.end) r.fail(`${r.end - r.pos} bytes after the last field`);
    this.tables.set(id, { ds, valueFields, recordBytes });
    receivedLayouts.set(ds, { valueFields, recordBytes });
    this.opts.onDataSource?.(ds);
  }

  private readBatch(r: Reader): DecodedBatch {
    const id = r.uvar('data source number');
    const t = this.tables.get(id);
    if (!t) r.fail(`data source #${id} has no field table yet`);
    const n = r.count('record count', 6);
    const offs = new Uint32Array(n);
    const lens = new Uint32Array(n);
    const encStart = new Uint32Array(n);
    const encLen = new Uint32Array(n);
    // First pass: the record sizes (the buffer is allocated once), skipping the encodings.
    let at = 0;
    for (let k = 0; k < n; k++) {
      lens[k] = r.uvar(`record ${k} length`);
      encLen[k] = r.u32(`record ${k} encoded length`);
      encStart[k] = r.pos;
      r.skip(encLen[k]!, `record ${k} bytes`);
      offs[k] = at;
      at += Math.max(lens[k]!, t.recordBytes);
      if (at > MAX_DECODED_RECORD_BYTES) r.fail(`the records of this batch would take more than ${MAX_DECODED_RECORD_BYTES} bytes`);
    }
    const valuesAt = r.pos;
    // One zero-filled copy: the caller may reuse its buffer, and subscribers may rewrite fields in place.
    const buf = Buffer.alloc(at);
    for (let k = 0; k < n; k++) {
      r.pos = encStart[k]!;
      const size = Math.max(lens[k]!, t.recordBytes);
      readSegments(r, buf, offs[k]!, offs[k]! + size, encStart[k]! + encLen[k]!, k);
    }
    r.pos = valuesAt;
    const batch = new Batch(t.ds, buf, offs, lens, n);
    for (const f of t.valueFields) {
      const col = f.storage.type === 'column' ? batch.column(f.storage.column) : undefined;
      const label = new ValueLabel(f.fullName);
      for (let k = 0; k < n; k++) {
        label.k = k;
        const v = readValue(r, label);
        if (col) col[k] = v;
      }
    }
    if (r.pos !== r.end) r.fail(`${r.end - r.pos} bytes after the last value`);
    return { ds: t.ds, batch };
  }
}

/**
 * The length of the frame at `pos` (header included), once its header is there; checks magic and version. For
 * readers of a byte stream (files, sockets): wait until that many bytes are in, then decode.
 */
export function frameLength(buf: Buffer, pos = 0): number | undefined {
  if (buf.length - pos < FRAME_HEADER_SIZE) return undefined;
  if (buf[pos] !== PACKET_MAGIC[0] || buf[pos + 1] !== PACKET_MAGIC[1]) {
    throw new PacketError(`packet: not an ig packet at byte ${pos} (starts with 0x${buf.subarray(pos, pos + 2).toString('hex')})`);
  }
  const version = buf[pos + 2]!;
  if (version !== PACKET_VERSION) throw new PacketError(`packet: format version ${version} at byte ${pos} is not supported (this ig reads version ${PACKET_VERSION})`);
  const len = buf.readUInt32LE(pos + 4);
  if (len > MAX_FRAME_SIZE) throw new PacketError(`packet: frame at byte ${pos} claims ${len} bytes (at most ${MAX_FRAME_SIZE})`);
  return FRAME_HEADER_SIZE + len;
}
