// The packet codec on hand-made data sources: every value type, bitfields, parents, field tables sent once, the
// receiving side's subscribers printing the same text, and bad or truncated input ending in a PacketError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from './datasource.js';
import { Batch } from './batch.js';
import { FieldFlag } from './field.js';
import { Kind, KindFlagArray } from './kinds.js';
import { FRAME_HEADER_SIZE, PacketDecoder, PacketEncoder, PacketError, frameLength } from './codec.js';

const st = (offs: number, size: number, extra: { bitOffset?: number; bitSize?: number } = {}) => ({ type: 'static' as const, offs, size, ...extra });

/** struct { u64 ts; u32 pid; char comm[16]; u8 flags:3, mode:5; s16 delta; u32 arr[2]; } = 40 bytes, plus enrichment. */
function makeDs(): DataSource {
  const ds = new DataSource('events', 'single', { annotations: { 'cli.default-output-mode': 'json' }, fields: { pid: { annotations: { 'columns.width': '9' } } } });
  ds.tags.push('role:test');
  ds.staticSize = 40;
  ds.addField({ name: 'ts', kind: Kind.Uint64, storage: st(0, 8), tags: ['type:gadget_timestamp'] });
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: st(8, 4), annotations: { template: 'pid' } });
  ds.addField({ name: 'comm', kind: Kind.CString, storage: st(12, 16) });
  ds.addField({ name: 'flags', kind: Kind.Uint8, storage: st(28, 1, { bitOffset: 0, bitSize: 3 }) });
  ds.addField({ name: 'mode', kind: Kind.Uint8, storage: st(28, 1, { bitOffset: 3, bitSize: 5 }) });
  ds.addField({ name: 'delta', kind: Kind.Int16, storage: st(30, 2) });
  ds.addField({ name: 'arr', kind: Kind.Uint32 | KindFlagArray, storage: st(32, 8) });
  const k8s = ds.addField({ name: 'k8s', kind: Kind.Invalid, flags: FieldFlag.Empty, order: -5 });
  ds.addField({ name: 'podName', parent: k8s, kind: Kind.String, order: -5, storage: { type: 'derived', compute: (b, i) => `pod-${b.buf.readUInt32LE(b.offs[i]! + 8) % 3}` } });
  ds.addField({ name: 'big', kind: Kind.Uint64, storage: { type: 'derived', compute: (b, i) => (b.buf.readUInt32LE(b.offs[i]! + 8) % 2 ? 2n ** 63n + 5n : 17) } });
  ds.addField({ name: 'neg', kind: Kind.Int64, storage: { type: 'derived', compute: (b, i) => (i % 2 ? -(2n ** 62n) : -3) } });
  ds.addField({ name: 'ratio', kind: Kind.Float64, storage: { type: 'derived', compute: (_b, i) => [0.5, -0, NaN, 1e300][i % 4]! } });
  ds.addField({ name: 'ok', kind: Kind.Bool, storage: { type: 'derived', compute: (_b, i) => i % 2 === 0 } });
  ds.addField({ name: 'blob', kind: Kind.Bytes, storage: { type: 'derived', compute: (_b, i) => Buffer.from([i, 255, 0]) } });
  ds.addField({ name: 'stack', kind: Kind.Uint64 | KindFlagArray, storage: { type: 'derived', compute: (_b, i) => (i % 2 ? [1, 2n ** 64n - 1n] : []) as number[] } });
  ds.addField({ name: 'maybe', kind: Kind.String, storage: { type: 'derived', compute: (_b, i) => (i % 3 === 1 ? null : i % 3 === 2 ? undefined : 'é"\n') } });
  ds.addField({ name: 'col', kind: Kind.String });
  const joined = ds.addField({ name: 'args', kind: Kind.CString, storage: st(12, 16) , fullName: 'args' });
  const base = joined.get;
  joined.override((b, i) => `joined:${base(b, i) as string}`);
  return ds;
}

function makeBatch(ds: DataSource, n: number): Batch {
  const b = ds.newBatch(n);
  for (let i = 0; i < n; i++) {
    const o = b.offs[i]!;
    b.buf.writeBigUInt64LE(BigInt(i) * 1_000_000_007n + (i === 3 ? 2n ** 63n : 0n), o);
    b.buf.writeUInt32LE(1000 + i, o + 8);
    b.buf.write(`proc${i}\u00e9`, o + 12);
    b.buf[o + 28] = (i * 37) & 0xff;
    b.buf.writeInt16LE(-i * 100, o + 30);
    b.buf.writeUInt32LE(i, o + 32);
    b.buf.writeUInt32LE(0xffffffff - i, o + 36);
    b.column(ds.getField('col')!.storage.type === 'column' ? (ds.getField('col')!.storage as { column: number }).column : 0)[i] = `c${i}`;
  }
  return b;
}

/** Every field's value of every live record, in live order. */
function values(ds: DataSource, b: Batch): unknown[][] {
  return [...b.indices()].map((i) => ds.fields.map((f) => f.get(b, i)));
}

test('a batch round-trips: same fields, same values of every type, live order kept', () => {
  const ds = makeDs();
  const b = makeBatch(ds, 6);
  b.retain((i) => i !== 2);
  b.live.reverse();
  b.live.copyWithin(0, b.live.length - b.liveCount);
  const enc = new PacketEncoder();
  const dec = new PacketDecoder();
  const [got] = dec.decode(enc.encode(b));
  assert.ok(got);
  assert.equal(got.batch.count, b.liveCount);
  assert.deepEqual(got.ds.fields.map((f) => [f.fullName, f.name, f.kind, f.flags, f.order, f.parent?.fullName, f.tags, [...f.annotations]]),
    ds.fields.map((f) => [f.fullName, f.name, f.kind, f.flags, f.order, f.parent?.fullName, f.tags, [...f.annotations]]));
  assert.equal(got.ds.name, 'events');
  assert.equal(got.ds.type, 'single');
  assert.equal(got.ds.staticSize, 40);
  assert.deepEqual([...got.ds.annotations], [...ds.annotations]);
  assert.deepEqual(got.ds.tags, ['role:test']);
  assert.deepEqual(values(got.ds, got.batch), values(ds, b));
  // Types are kept exactly (bigint stays bigint, -0 stays -0, null and undefined differ).
  const row = values(got.ds, got.batch);
  const col = (name: string) => got.ds.fields.findIndex((f) => f.fullName === name);
  assert.equal(typeof row[0]![col('big')], 'bigint');
  assert.ok(row.some((r) => Object.is(r[col('ratio')], -0)));
  assert.ok(row.some((r) => r[col('maybe')] === null) && row.some((r) => r[col('maybe')] === undefined));
  // The joined-strings value travelled as a value; the raw bytes are still there for static readers.
  assert.match(String(row[0]![col('args')]), /^joined:proc/);
  assert.equal(got.ds.getField('args')!.storage.type, 'column');
  assert.equal(got.ds.getField('pid')!.storage.type, 'static');
});

test('the field table is sent once per data source; batches refer to it; a new table replaces it', () => {
  const ds = makeDs();
  const enc = new PacketEncoder();
  const first = enc.encode(makeBatch(ds, 2));
  const second = enc.encode(makeBatch(ds, 2));
  assert.ok(second.length < first.length / 2, `${second.length} vs ${first.length}`);
  const firstFrame = frameLength(first)!;
  assert.equal(first[3], 1, 'field table first');
  assert.equal(first[firstFrame + 3], 2, 'then the batch');
  assert.equal(frameLength(second), second.length, 'one batch frame only');
  const dec = new PacketDecoder();
  const seen: DataSource[] = [];
  const dec2 = new PacketDecoder({ onDataSource: (d) => seen.push(d) });
  assert.throws(() => dec.decode(second), (e: Error) => e instanceof PacketError && /data source #0 has no field table yet/.test(e.message));
  const a = dec2.decode(first)[0]!;
  const b = dec2.decode(second)[0]!;
  assert.equal(a.ds, b.ds);
  assert.equal(seen.length, 1);
  enc.invalidate(ds);
  const third = enc.encode(makeBatch(ds, 1));
  assert.equal(third[3], 1);
  dec2.decode(third);
  assert.equal(seen.length, 2);
});

test('only the selected fields carry values; the others are unreferenced on the receiving side', () => {
  const ds = makeDs();
  const enc = new PacketEncoder({ fields: (d) => [d.getField('k8s.podName')!] });
  const all = new PacketEncoder().encode(makeBatch(ds, 4));
  const buf = enc.encode(makeBatch(ds, 4));
  assert.ok(buf.length < all.length);
  const got = new PacketDecoder().decode(buf)[0]!;
  assert.equal(got.ds.getField('k8s.podName')!.get(got.batch, 1), 'pod-2');
  assert.ok(got.ds.getField('big')!.unreferenced);
  assert.ok(!got.ds.getField('k8s')!.unreferenced, 'grouping parents stay');
  assert.equal(got.ds.getField('pid')!.get(got.batch, 3), 1003, 'record bytes always travel');
});

test('a receiving side can add fields after decoding without clashing with decoded columns', () => {
  const ds = makeDs();
  const got = new PacketDecoder().decode(new PacketEncoder().encode(makeBatch(ds, 3)))[0]!;
  const extra = got.ds.addField({ name: 'extra', kind: Kind.String });
  extra.set(got.batch, 0, 'x');
  assert.equal(got.ds.getField('col')!.get(got.batch, 0), 'c0');
  assert.equal(extra.get(got.batch, 0), 'x');
});

test('a short record travels padded so that no field reads outside it', () => {
  const ds = makeDs();
  const b = new Batch(ds, Buffer.alloc(20, 1), new Uint32Array([0]), new Uint32Array([20]), 1);
  const got = new PacketDecoder().decode(new PacketEncoder({ fields: () => [] }).encode(b))[0]!;
  assert.equal(got.batch.lens[0], 20);
  assert.equal(got.ds.getField('pid')!.get(got.batch, 0), 0x01010101);
  assert.deepEqual(got.ds.getField('arr')!.get(got.batch, 0), [0, 0]);
});

test('zero runs inside records and trailing zeros are not sent', () => {
  const ds = new DataSource('paths', 'single');
  ds.staticSize = 1040;
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: st(0, 4) });
  ds.addField({ name: 'name', kind: Kind.CString, storage: st(4, 512) });
  ds.addField({ name: 'flags', kind: Kind.Uint32, storage: st(516, 4) });
  ds.addField({ name: 'path', kind: Kind.CString, storage: st(520, 512) });
  ds.addField({ name: 'tail', kind: Kind.Uint64, storage: st(1032, 8) });
  const b = ds.newBatch(100);
  for (let i = 0; i < 100; i++) {
    const o = b.offs[i]!;
    b.buf.writeUInt32LE(i + 1, o);
    b.buf.write(`name-${i}`, o + 4);
    b.buf.writeUInt32LE(0o2000000, o + 516);
    b.buf.write(`/some/path/${i}`, o + 520);
    if (i % 2) b.buf.writeBigUInt64LE(BigInt(i), o + 1032);
  }
  const frame = new PacketEncoder().encode(b);
  assert.ok(frame.length < 100 * 80, `${frame.length} bytes for 100 records of 1040`);
  const got = new PacketDecoder().decode(frame)[0]!;
  assert.equal(got.batch.buf.length, 100 * 1040);
  for (let i = 0; i < 100; i++) {
    assert.ok(got.batch.buf.subarray(got.batch.offs[i]!, got.batch.offs[i]! + 1040).equals(b.buf.subarray(b.offs[i]!, b.offs[i]! + 1040)), `record ${i}`);
  }
});

test('an empty batch and an array data source round-trip', () => {
  const ds = new DataSource('top', 'array');
  ds.staticSize = 8;
  ds.addField({ name: 'n', kind: Kind.Uint64, storage: st(0, 8) });
  const enc = new PacketEncoder();
  const dec = new PacketDecoder();
  const e = dec.decode(enc.encode(ds.newBatch(0)))[0]!;
  assert.equal(e.batch.count, 0);
  assert.equal(e.ds.type, 'array');
  const b = ds.newBatch(2);
  b.buf.writeBigUInt64LE(2n ** 64n - 1n, 8);
  const got = dec.decode(enc.encode(b))[0]!;
  assert.deepEqual([got.ds.getField('n')!.get(got.batch, 0), got.ds.getField('n')!.get(got.batch, 1)], [0, 2n ** 64n - 1n]);
});

test('a value that cannot be encoded is a clear error', () => {
  const ds = new DataSource('x', 'single');
  ds.addField({ name: 'obj', kind: Kind.String, storage: { type: 'derived', compute: () => ({ a: 1 }) as never } });
  assert.throws(() => new PacketEncoder().encode(ds.newBatch(1)), (e: Error) => e instanceof PacketError && /field obj: a value of type object cannot be encoded/.test(e.message));
});

test('bad and truncated input ends in a PacketError, never another exception', () => {
  const ds = makeDs();
  const enc = new PacketEncoder();
  const buf = Buffer.concat([enc.encode(makeBatch(ds, 5)), enc.encode(makeBatch(ds, 3))]);
  assert.equal(new PacketDecoder().decode(buf).length, 2);
  const expectPacketError = (input: Buffer, re?: RegExp) => {
    try {
      new PacketDecoder().decode(input);
    } catch (e) {
      assert.ok(e instanceof PacketError, `not a PacketError: ${(e as Error).stack}`);
      assert.equal(e.message.split('\n').length, 1);
      if (re) assert.match(e.message, re);
      return;
    }
    if (re) assert.fail(`no error for ${re}`);
  };
  // Every truncation.
  for (let n = 1; n < buf.length; n++) expectPacketError(buf.subarray(0, n));
  expectPacketError(Buffer.from('{"json":1}'), /not an ig packet/);
  const v2 = Buffer.from(buf); v2[2] = 2;
  expectPacketError(v2, /format version 2 .* not supported \(this ig reads version 1\)/);
  const t = Buffer.from(buf); t[3] = 9;
  expectPacketError(t, /unknown frame type 9/);
  const huge = Buffer.from(buf); huge.writeUInt32LE(0xfffffff0, 4);
  expectPacketError(huge, /claims \d+ bytes/);
  expectPacketError(buf.subarray(0, 5), /truncated frame header/);
  // Every single-byte corruption of the body, and random bytes after a valid header: errors or valid data only.
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let pos = FRAME_HEADER_SIZE; pos < buf.length; pos++) {
    const c = Buffer.from(buf);
    c[pos] = c[pos]! ^ (1 + (rnd() % 255));
    expectPacketError(c);
  }
  for (let k = 0; k < 300; k++) {
    const body = Buffer.alloc(rnd() % 200);
    for (let j = 0; j < body.length; j++) body[j] = rnd() & 0xff;
    const hdr = Buffer.from([0x69, 0x67, 1, 1 + (k % 2), 0, 0, 0, 0]);
    hdr.writeUInt32LE(body.length, 4);
    expectPacketError(Buffer.concat([buf.subarray(0, frameLength(buf)!), hdr, body]));
  }
});
