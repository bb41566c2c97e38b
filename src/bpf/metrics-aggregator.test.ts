// The native per-key aggregator without a kernel: records in reader layout counted on this thread through the test
// build's hook. Keys by bytes (C strings up to their NUL), sums, signed values, gauges, log2 slots, drains of new
// keys and deltas, reset, the key limit and records shorter than the spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeTestHooks } from '../../test/harness/native-test-addon.js';
import { AggOp, MetricsAggregator } from './metrics-aggregator.js';

/** Records of 40 bytes: comm char[16] @0 | bytes u32 @16 | delta s32 @20 | queue u64 @24 | slots u32[2] @32. */
interface Rec { comm: string; junk?: string; bytes?: number; delta?: number; queue?: bigint; slots?: [number, number] }

function batch(recs: Rec[], size = 40): Buffer {
  const stride = 8 + ((size + 7) & ~7);
  const b = Buffer.alloc(stride * recs.length);
  recs.forEach((r, i) => {
    const o = i * stride;
    b.writeUInt32LE(size, o);
    const p = o + 8;
    b.write(r.comm, p);
    // Ring memory is not cleared: bytes after the NUL are left over from earlier records.
    if (r.junk) b.write(r.junk, p + r.comm.length + 1);
    if (size >= 40) {
      b.writeUInt32LE(r.bytes ?? 0, p + 16);
      b.writeInt32LE(r.delta ?? 0, p + 20);
      b.writeBigUInt64LE(r.queue ?? 0n, p + 24);
      b.writeUInt32LE(r.slots?.[0] ?? 0, p + 32);
      b.writeUInt32LE(r.slots?.[1] ?? 0, p + 36);
    }
  });
  return b;
}

const spec = (maxKeys = 100) => ({
  keys: [{ offset: 0, size: 16, cstring: true }],
  ops: [
    { op: AggOp.Count, offset: 0, size: 0 }, { op: AggOp.SumU, offset: 16, size: 4 }, { op: AggOp.SumS, offset: 20, size: 4 },
    { op: AggOp.LastU, offset: 24, size: 8 }, { op: AggOp.SlotsU, offset: 32, size: 4, slots: 2 },
  ],
  maxKeys,
});

function keyName(keys: Buffer, k: number): string {
  const s = keys.subarray(k * 16, k * 16 + 16);
  return s.subarray(0, s.indexOf(0) < 0 ? 16 : s.indexOf(0)).toString();
}

/** slot → [count, bytes, delta, queue, slot0, slot1] */
function deltas(d: Float64Array, cells: number): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (let p = 0; p < d.length; p += 2 + cells) m.set(d[p]!, [...d.subarray(p + 2, p + 2 + cells)]);
  return m;
}

test('records are counted per key; C string keys end at their NUL; drains hand over new keys and deltas', () => {
  const { metricsAggAddBatch } = nativeTestHooks();
  const a = MetricsAggregator.create(spec());
  assert.equal(a.keyLength, 16);
  assert.equal(a.cells, 6);
  const add = (recs: Rec[]) => { const b = batch(recs); metricsAggAddBatch(a.handle, b, recs.length); };
  add([
    { comm: 'cat', bytes: 10, delta: -5, queue: 7n, slots: [1, 2] },
    { comm: 'cat', junk: 'leftover', bytes: 1, delta: 2, queue: 9n, slots: [0, 3] },
    { comm: 'ls', bytes: 100, delta: -1, queue: 1n },
    { comm: 'cat', junk: 'x', bytes: 1, delta: 1, queue: 3n },
  ]);
  let d = a.drain();
  assert.equal(d.records, 4);
  assert.equal(d.firstId, 0);
  assert.equal(d.newKeys, 2, 'junk after the NUL is not part of the key');
  assert.deepEqual([keyName(d.keys, 0), keyName(d.keys, 1)], ['cat', 'ls']);
  assert.deepEqual(d.keys.subarray(3, 16), Buffer.alloc(13), 'stored keys are zero after the NUL');
  let m = deltas(d.deltas, a.cells);
  assert.deepEqual(m.get(0), [3, 12, -2, 3, 1, 5], 'cat: 3 records, sums, the last gauge value, slots summed');
  assert.deepEqual(m.get(1), [1, 100, -1, 1, 0, 0]);
  // Only touched keys come back, with what changed since the last drain; gauges keep their last value.
  add([{ comm: 'ls', bytes: 5, queue: 2n }, { comm: 'vim', bytes: 1 }]);
  d = a.drain();
  assert.equal(d.firstId, 2);
  assert.equal(d.newKeys, 1);
  assert.equal(keyName(d.keys, 0), 'vim');
  m = deltas(d.deltas, a.cells);
  assert.deepEqual([...m.keys()].sort(), [1, 2]);
  assert.deepEqual(m.get(1), [1, 5, 0, 2, 0, 0]);
  assert.equal(a.drain().deltas.length, 0, 'nothing new, nothing drained');
  // reset: every key is new again after it.
  add([{ comm: 'cat' }]);
  a.drain(true);
  add([{ comm: 'cat' }]);
  d = a.drain();
  assert.equal(d.firstId, 0);
  assert.equal(d.newKeys, 1);
  assert.equal(keyName(d.keys, 0), 'cat');
});

test('records of keys past the limit are reported; short records read as zero-padded', () => {
  const { metricsAggAddBatch } = nativeTestHooks();
  const a = MetricsAggregator.create(spec(2));
  const recs: Rec[] = [{ comm: 'a' }, { comm: 'b' }, { comm: 'c' }, { comm: 'a' }, { comm: 'd' }];
  metricsAggAddBatch(a.handle, batch(recs), recs.length);
  metricsAggAddBatch(a.handle, batch([{ comm: 'a' }], 20), 1); // 20 bytes: no value members
  const d = a.drain();
  assert.equal(d.newKeys, 2);
  assert.equal(d.overflow, 2, 'c and d');
  assert.equal(d.short, 1);
  assert.equal(d.records, 6);
  assert.deepEqual(deltas(d.deltas, a.cells).get(0), [3, 0, 0, 0, 0, 0], 'a counted three times, the short one with zero values');
});

test('many distinct keys (the table grows) and keyless aggregation', () => {
  const { metricsAggAddBatch } = nativeTestHooks();
  const a = MetricsAggregator.create(spec(100_000));
  const recs: Rec[] = [];
  for (let i = 0; i < 20_000; i++) recs.push({ comm: `k${i % 10_000}`, bytes: i });
  metricsAggAddBatch(a.handle, batch(recs), recs.length);
  const d = a.drain();
  assert.equal(d.newKeys, 10_000);
  const m = deltas(d.deltas, a.cells);
  assert.equal(m.size, 10_000);
  for (let k = 0; k < 10_000; k += 997) {
    const slot = [...Array(10_000).keys()].find((s) => keyName(d.keys, s) === `k${k}`)!;
    assert.deepEqual(m.get(slot)!.slice(0, 2), [2, k + k + 10_000]);
  }
  const none = MetricsAggregator.create({ keys: [], ops: [{ op: AggOp.Count, offset: 0, size: 0 }], maxKeys: 1 });
  metricsAggAddBatch(none.handle, batch([{ comm: 'a' }, { comm: 'b' }]), 2);
  const d2 = none.drain();
  assert.equal(d2.newKeys, 1);
  assert.deepEqual([...d2.deltas], [0, 2, 2], 'slot 0, last record #2, count 2');
});

test('a bad spec is refused with the reason', () => {
  assert.throws(() => MetricsAggregator.create({ keys: [{ offset: -1, size: 4, cstring: false }], ops: [], maxKeys: 1 }), /metrics aggregator: bad key range/);
  assert.throws(() => MetricsAggregator.create({ keys: [], ops: [{ op: AggOp.SumU, offset: 0, size: 3 }], maxKeys: 1 }), /integer value size/);
  assert.throws(() => MetricsAggregator.create({ keys: [], ops: [{ op: 99, offset: 0, size: 4 }], maxKeys: 1 }), /unknown value op/);
  assert.throws(() => MetricsAggregator.create({ keys: [], ops: [], maxKeys: 0 }), /maxKeys/);
});
