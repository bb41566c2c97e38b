// How a data source travels to a remote client: its field table once (api.DataSource inside the run's GadgetInfo),
// then batches in ig's versioned binary form:
//
//   u32 magic 'IGB' + version (0x01424749 little-endian: "IGB\x01")   u32 count   u32 recordSize
//   count × recordSize bytes: each live record's static struct, as the kernel wrote it (after in-place rewrites)
//   per dynamic field (payloadIndex k ≥ 1, in table order): count values (see writeValue)
//
// Static fields (payloadIndex 0) are read on the other side by offset, as here; fields that operators compute
// (container names, formatted flags, user names) travel as values. The decoder builds a DataSource whose fields
// read the same bytes and columns, so the same subscribers (the cli renderers) read a decoded batch.
import { Batch, DataSource, Field, FieldFlag, Kind, baseKind, type FieldValue } from '../datasource/index.js';
import type { ApiDataSource, ApiField } from './proto.js';

export const BATCH_MAGIC = 0x01424749;
export const DS_TYPE = { single: 1, array: 2 } as const;
const NONE = 0xffffffff;

export class WireError extends Error {}

/** Which payload a field's value travels in: 0 = the record bytes, k ≥ 1 = dynamic column k-1, NONE = nothing. */
function isStaticOnWire(f: Field): boolean {
  const s = f.storage;
  return f.readsStorage && s.type === 'static' && !s.bitSize;
}

/** The server side of one data source: its table and a batch encoder that reads only what it sends. */
export class DataSourceEncoder {
  readonly table: ApiDataSource;
  private readonly dynamic: Field[] = [];
  private readonly recordSize: number;
  private out = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;

  constructor(readonly ds: DataSource, id: number) {
    let recordSize = 0;
    const fields: ApiField[] = ds.fields.map((f) => {
      let payloadIndex = NONE;
      let offs = 0;
      let size = 0;
      if (f.isEmpty || f.unreferenced) payloadIndex = NONE;
      else if (isStaticOnWire(f)) {
        const s = f.storage as { offs: number; size: number };
        payloadIndex = 0; offs = s.offs; size = s.size;
        recordSize = Math.max(recordSize, offs + size);
      } else {
        this.dynamic.push(f);
        payloadIndex = this.dynamic.length;
      }
      return {
        name: f.name, fullName: f.fullName, index: f.index, payloadIndex, offs, size, flags: f.flags & ~FieldFlag.HasParent | (f.parent ? FieldFlag.HasParent : 0),
        kind: f.kind, tags: [...f.tags], annotations: Object.fromEntries(f.annotations), parent: f.parent ? f.parent.index : 0, order: f.order,
      };
    });
    this.recordSize = recordSize;
    this.table = {
      id, name: ds.name, type: DS_TYPE[ds.type], fields, tags: [...ds.tags], annotations: Object.fromEntries(ds.annotations), flags: 0,
    };
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.out.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + n));
    this.out.copy(next, 0, 0, this.pos);
    this.out = next;
  }

  /** Encode the live records of a batch; the returned Buffer is a fresh copy (it outlives the call in queues). */
  encode(b: Batch): Buffer {
    const n = b.liveCount;
    const rs = this.recordSize;
    this.pos = 0;
    this.ensure(12 + n * rs);
    const out = this.out;
    out.writeUInt32LE(BATCH_MAGIC, 0);
    out.writeUInt32LE(n, 4);
    out.writeUInt32LE(rs, 8);
    this.pos = 12;
    if (rs > 0) {
      for (let k = 0; k < n; k++) {
        const i = b.live[k]!;
        const o = b.offs[i]!;
        const len = Math.min(b.lens[i]!, rs, b.buf.length - o);
        b.buf.copy(this.out, this.pos, o, o + len);
        if (len < rs) this.out.fill(0, this.pos + len, this.pos + rs);
        this.pos += rs;
      }
    }
    for (const f of this.dynamic) {
      const kind = f.kind;
      for (let k = 0; k < n; k++) this.writeValue(kind, f.get(b, b.live[k]!));
    }
    return Buffer.from(this.out.subarray(0, this.pos));
  }

  /**
   * A value: a tag byte, then 0 none; 1 scalar (64-bit integer kinds as 8 bytes LE, others as f64); 2 UTF-8 text
   * and 3 bytes (u32 length first); 4 array (u32 count, then scalars). The tag, not the kind, says what follows:
   * an operator may give a numeric field a text value.
   */
  private writeValue(kind: number, v: FieldValue): void {
    if (v === undefined || v === null) { this.ensure(1); this.out[this.pos++] = 0; return; }
    const base = baseKind(kind);
    if (typeof v === 'string') {
      const len = Buffer.byteLength(v);
      this.ensure(5 + len);
      this.out[this.pos++] = 2;
      this.out.writeUInt32LE(len, this.pos); this.pos += 4;
      this.out.write(v, this.pos, 'utf8');
      this.pos += len;
      return;
    }
    if (Buffer.isBuffer(v)) {
      this.ensure(5 + v.length);
      this.out[this.pos++] = 3;
      this.out.writeUInt32LE(v.length, this.pos); this.pos += 4;
      v.copy(this.out, this.pos);
      this.pos += v.length;
      return;
    }
    if (Array.isArray(v)) {
      this.ensure(5 + v.length * 8);
      this.out[this.pos++] = 4;
      this.out.writeUInt32LE(v.length, this.pos); this.pos += 4;
      for (const x of v as (number | bigint)[]) this.writeScalar(base, x);
      return;
    }
    this.ensure(9);
    this.out[this.pos++] = 1;
    this.writeScalar(base, v);
  }

  private writeScalar(base: number, v: number | bigint | boolean): void {
    if (base === Kind.Int64 || base === Kind.Uint64) {
      const big = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
      if (base === Kind.Uint64) this.out.writeBigUInt64LE(BigInt.asUintN(64, big), this.pos);
      else this.out.writeBigInt64LE(BigInt.asIntN(64, big), this.pos);
    } else {
      this.out.writeDoubleLE(typeof v === 'boolean' ? (v ? 1 : 0) : Number(v), this.pos);
    }
    this.pos += 8;
  }
}

/** The client side: a DataSource built from a field table, and a decoder of its batches. */
export class DataSourceDecoder {
  readonly ds: DataSource;
  /** Dynamic fields in payload order, with their kind. */
  private readonly dynamic: { field: Field; kind: number; column: number }[] = [];

  constructor(readonly table: ApiDataSource) {
    const type = table.type === DS_TYPE.array ? 'array' : 'single';
    this.ds = new DataSource(table.name, type, { annotations: table.annotations });
    for (const t of table.tags ?? []) this.ds.tags.push(t);
    const byIndex = new Map<number, Field>();
    const dyn: { payloadIndex: number; field: Field; kind: number; column: number }[] = [];
    let column = 0;
    let recordSize = 0;
    for (const af of table.fields) {
      const hasParent = (af.flags & FieldFlag.HasParent) !== 0;
      const parent = hasParent ? byIndex.get(af.parent) : undefined;
      let storage: ConstructorParameters<typeof Field>[0]['storage'];
      if (af.payloadIndex === 0 && !(af.flags & FieldFlag.Empty)) {
        storage = { type: 'static', offs: af.offs, size: af.size };
        recordSize = Math.max(recordSize, af.offs + af.size);
      } else if (af.payloadIndex === NONE || (af.flags & FieldFlag.Empty)) storage = { type: 'empty' };
      else storage = { type: 'column', column: column++ };
      const f = this.ds.addField({
        name: af.name, fullName: af.fullName, kind: af.kind, flags: af.flags & ~FieldFlag.HasParent, tags: [...(af.tags ?? [])],
        annotations: af.annotations ?? {}, parent, order: af.order, storage,
      });
      f.flags = af.flags & ~(parent ? 0 : FieldFlag.HasParent);
      byIndex.set(af.index, f);
      if (storage.type === 'column') dyn.push({ payloadIndex: af.payloadIndex, field: f, kind: af.kind, column: storage.column });
    }
    dyn.sort((a, b) => a.payloadIndex - b.payloadIndex);
    this.dynamic = dyn.map(({ field, kind, column: c }) => ({ field, kind, column: c }));
    this.ds.staticSize = recordSize;
  }

  private truncated(f: Field): WireError {
    return new WireError(`data source ${this.ds.name}: batch is truncated in ${f.fullName}`);
  }

  decode(buf: Buffer): Batch {
    if (buf.length < 12 || buf.readUInt32LE(0) !== BATCH_MAGIC) throw new WireError(`data source ${this.ds.name}: not an ig batch (version ${buf.length >= 4 ? buf[3] : '?'})`);
    const n = buf.readUInt32LE(4);
    const rs = buf.readUInt32LE(8);
    let pos = 12 + n * rs;
    if (pos > buf.length) throw new WireError(`data source ${this.ds.name}: batch of ${n} records is truncated`);
    const b = Batch.fixed(this.ds, buf.subarray(12, pos), rs, n);
    for (const d of this.dynamic) {
      const col = b.column(d.column);
      const base = baseKind(d.kind);
      for (let k = 0; k < n; k++) {
        if (pos >= buf.length) throw this.truncated(d.field);
        const tag = buf[pos++];
        if (tag === 0) { col[k] = undefined; continue; }
        if (tag === 1) {
          if (pos + 8 > buf.length) throw this.truncated(d.field);
          const v = readScalar(buf, pos, base); pos += 8;
          col[k] = base === Kind.Bool ? v !== 0 : v;
          continue;
        }
        if (pos + 4 > buf.length) throw this.truncated(d.field);
        const len = buf.readUInt32LE(pos); pos += 4;
        if (tag === 4) {
          if (pos + len * 8 > buf.length) throw this.truncated(d.field);
          const xs: (number | bigint)[] = new Array(len);
          for (let e = 0; e < len; e++) { xs[e] = readScalar(buf, pos, base); pos += 8; }
          col[k] = xs as number[];
        } else if (tag === 2 || tag === 3) {
          if (pos + len > buf.length) throw this.truncated(d.field);
          col[k] = tag === 2 ? buf.toString('utf8', pos, pos + len) : Buffer.from(buf.subarray(pos, pos + len));
          pos += len;
        } else {
          throw new WireError(`data source ${this.ds.name}: unknown value tag ${tag} in ${d.field.fullName}`);
        }
      }
    }
    return b;
  }
}

function readScalar(buf: Buffer, pos: number, base: number): number | bigint {
  if (base === Kind.Uint64) {
    const v = buf.readBigUInt64LE(pos);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  if (base === Kind.Int64) {
    const v = buf.readBigInt64LE(pos);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  return buf.readDoubleLE(pos);
}
