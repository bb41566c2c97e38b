// Export mode without a kernel: field roles, per-key aggregation per batch, what the SDK reports, and the
// one-line errors for fields that cannot be metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeterProvider, MetricReader, DataPointType, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { DataSource, FieldFlag, Kind, KindFlagArray, type Batch } from '../../datasource/index.js';
import { nativeTestHooks } from '../../../test/harness/native-test-addon.js';
import { MetricsConfigError, MetricsExport } from './collect.js';
import { parseNameMappings } from './operator.js';

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> { /* nothing buffered */ }
  protected async onForceFlush(): Promise<void> { /* nothing buffered */ }
  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics } = await this.collect();
    const out = new Map<string, MetricData>();
    for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) out.set(`${sm.scope.name}/${m.descriptor.name}`, m);
    return out;
  }
}

/** comm (char[16], key) | bytes u32 (counter) | queue u32 (gauge) | lat u64 (histogram, boundaries) | slots u32[4] */
function ds(ann: Record<string, string> = {}): DataSource {
  const d = new DataSource('open', 'single', { annotations: { 'metrics.collect': 'true', 'metrics.implicit-counter.name': 'opens', ...ann } });
  d.staticSize = 48;
  const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });
  d.addField({ name: 'comm', kind: Kind.CString, annotations: { 'metrics.type': 'key' }, flags: FieldFlag.StaticMember, storage: st(0, 16) });
  d.addField({ name: 'bytes', kind: Kind.Uint32, annotations: { 'metrics.type': 'counter', 'metrics.unit': 'By', 'metrics.description': 'bytes read' }, flags: FieldFlag.StaticMember, storage: st(16, 4) });
  d.addField({ name: 'queue', kind: Kind.Uint32, tags: ['type:gadget_gauge__u32'], flags: FieldFlag.StaticMember, storage: st(20, 4) });
  d.addField({ name: 'lat', kind: Kind.Uint64, annotations: { 'metrics.type': 'histogram', 'metrics.boundaries': '10,100,1000' }, flags: FieldFlag.StaticMember, storage: st(24, 8) });
  d.addField({ name: 'slots', kind: Kind.Uint32 | KindFlagArray, tags: ['type:gadget_histogram_slot__u32'], flags: FieldFlag.StaticMember, storage: st(32, 16) });
  return d;
}

function emit(d: DataSource, recs: { comm: string; bytes: number; queue: number; lat: number; slots?: number[] }[]): void {
  const b = d.newBatch(recs.length);
  recs.forEach((r, i) => {
    const o = i * 48;
    b.buf.write(r.comm, o);
    b.buf.writeUInt32LE(r.bytes, o + 16);
    b.buf.writeUInt32LE(r.queue, o + 20);
    b.buf.writeBigUInt64LE(BigInt(r.lat), o + 24);
    (r.slots ?? []).forEach((v, k) => b.buf.writeUInt32LE(v, o + 32 + 4 * k));
  });
  d.emit(b);
}

function points(m: MetricData | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of m?.dataPoints ?? []) out[String(p.attributes.comm)] = p.value;
  return out;
}

test('counters, gauges, implicit counter and histograms per key, on a scope named by --otel-metrics-name', async () => {
  const d = ds();
  const e = new MetricsExport(d, 'openmetrics');
  const reader = new TestReader();
  const mp = new MeterProvider({ readers: [reader] });
  e.register(mp.getMeter(e.scopeName));
  d.subscribe((b) => e.collect(b), 9995);
  emit(d, [
    { comm: 'cat', bytes: 10, queue: 3, lat: 5, slots: [1, 0, 2, 0] },
    { comm: 'ls', bytes: 1, queue: 9, lat: 50 },
    { comm: 'cat', bytes: 5, queue: 4, lat: 5000, slots: [0, 1, 0, 0] },
  ]);
  emit(d, [{ comm: 'cat', bytes: 1, queue: 2, lat: 500 }]);
  assert.equal(e.seriesCount, 2);
  const m = await reader.metrics();
  assert.deepEqual(points(m.get('openmetrics/opens')), { cat: 3, ls: 1 });
  assert.deepEqual(points(m.get('openmetrics/bytes')), { cat: 16, ls: 1 });
  assert.equal(m.get('openmetrics/bytes')!.descriptor.unit, 'By');
  assert.equal(m.get('openmetrics/bytes')!.descriptor.description, 'bytes read');
  assert.equal(m.get('openmetrics/bytes')!.dataPointType, DataPointType.SUM);
  assert.deepEqual(points(m.get('openmetrics/queue')), { cat: 2, ls: 9 });
  assert.equal(m.get('openmetrics/queue')!.dataPointType, DataPointType.GAUGE);
  const lat = m.get('openmetrics/lat') as HistogramMetricData;
  const cat = lat.dataPoints.find((p) => p.attributes.comm === 'cat')!.value;
  assert.deepEqual(cat.buckets, { boundaries: [10, 100, 1000], counts: [1, 0, 1, 1] });
  const slots = m.get('openmetrics/slots') as HistogramMetricData;
  const sc = slots.dataPoints.find((p) => p.attributes.comm === 'cat')!.value;
  // slot j → value 2^j: slot 0 (1 record) ≤ 1, slot 1 (1) ≤ 2, slot 2 (2) ≤ 4.
  assert.deepEqual(sc.buckets, { boundaries: [1, 2, 4, 8], counts: [1, 1, 2, 0, 0] });
  assert.equal(sc.count, 4);
  await mp.shutdown();
});

test('a batch of 10,000 records with 3 keys makes 3 series; counters need no per-record SDK call', async () => {
  const d = ds({ 'metrics.collect': 'true' });
  const e = new MetricsExport(d, 's');
  const reader = new TestReader();
  const mp = new MeterProvider({ readers: [reader] });
  const meter = mp.getMeter('s');
  // Count the synchronous instrument calls: counters and gauges are observable (read at collection), so only the
  // plain histogram's values reach the SDK per record.
  let calls = 0;
  const createHistogram = meter.createHistogram.bind(meter);
  meter.createHistogram = ((name: string, o?: object) => {
    const h = createHistogram(name, o);
    const record = h.record.bind(h);
    h.record = (v, at) => { calls++; record(v, at); };
    return h;
  }) as typeof meter.createHistogram;
  e.register(meter);
  d.subscribe((b) => e.collect(b), 9995);
  const recs = Array.from({ length: 10000 }, (_, i) => ({ comm: ['a', 'b', 'c'][i % 3]!, bytes: 1, queue: i, lat: 1 }));
  emit(d, recs);
  const m = await reader.metrics();
  assert.deepEqual(points(m.get('s/opens')), { a: 3334, b: 3333, c: 3333 });
  assert.equal(calls, 10000, 'the plain histogram records each value (the only per-record SDK call)');
  await mp.shutdown();
});

test('fields that cannot be metrics are one line naming the data source and field', () => {
  const bad = (name: string, kind: number, ann: Record<string, string>) => {
    const d = new DataSource('open', 'single', { annotations: { 'metrics.collect': 'true' } });
    d.addField({ name, kind, annotations: ann, flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 0, size: 16 } });
    return () => new MetricsExport(d, 'x');
  };
  assert.throws(bad('fname', Kind.CString, { 'metrics.type': 'counter' }), (e: Error) => e instanceof MetricsConfigError && e.message === 'data source open: field fname (string): metrics.type=counter needs a numeric field');
  assert.throws(bad('fname', Kind.CString, { 'metrics.type': 'histogram' }), /field fname \(string\): metrics.type=histogram needs a numeric field/);
  assert.throws(bad('v', Kind.Uint8 | KindFlagArray, { 'metrics.type': 'histogram' }), /needs u32\/u64 log2 slots/);
  assert.throws(bad('v', Kind.Uint32, { 'metrics.type': 'histogram', 'metrics.boundaries': '1,x' }), /invalid metrics.boundaries "1,x"/);
});

test('--otel-metrics-name: ds:name pairs or one bare name; mixing is an error', () => {
  assert.deepEqual([...parseNameMappings('open:a,exec:b')], [['open', 'a'], ['exec', 'b']]);
  assert.deepEqual([...parseNameMappings('a')], [['', 'a']]);
  assert.throws(() => parseNameMappings('a,open:b'), /invalid value "a,open:b" for --otel-metrics-name: mixes values with and without a data source/);
});

test('runs of one key (the byte-compare fast path) and keys that differ in one byte or by a prefix', async () => {
  const d = ds();
  const e = new MetricsExport(d, 's');
  const reader = new TestReader();
  const mp = new MeterProvider({ readers: [reader] });
  e.register(mp.getMeter('s'));
  d.subscribe((b) => e.collect(b), 9995);
  const seq = ['cat', 'cat', 'cot', 'ca', 'cat', 'cat', 'catx', 'cat'];
  emit(d, seq.map((comm) => ({ comm, bytes: 1, queue: 0, lat: 0 })));
  emit(d, [{ comm: 'cat', bytes: 1, queue: 0, lat: 0 }]);
  const m = await reader.metrics();
  assert.deepEqual(points(m.get('s/opens')), { cat: 6, cot: 1, ca: 1, catx: 1 });
  await mp.shutdown();
});

/** comm char[16] @0 (key) | uid u32 @16 | bytes u32 @20 (counter) | queue s32 @24 (gauge) | slots u32[2] @32; user: a
 * key derived from uid alone (as the uid/gid resolver declares it). */
function derivedDs(names: Map<number, string>): DataSource {
  const d = new DataSource('open', 'single', { annotations: { 'metrics.collect': 'true', 'metrics.implicit-counter.name': 'opens' } });
  d.staticSize = 40;
  const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });
  d.addField({ name: 'comm', kind: Kind.CString, annotations: { 'metrics.type': 'key' }, flags: FieldFlag.StaticMember, storage: st(0, 16) });
  const uid = d.addField({ name: 'uid', kind: Kind.Uint32, flags: FieldFlag.StaticMember, storage: st(16, 4) });
  const user = d.addField({ name: 'user', kind: Kind.String, annotations: { 'metrics.type': 'key' }, storage: { type: 'derived', compute: (b, i) => names.get(Number(uid.get(b, i))) ?? '?' } });
  user.derivation = { kind: 'computed', inputs: [uid] };
  d.addField({ name: 'bytes', kind: Kind.Uint32, annotations: { 'metrics.type': 'counter' }, flags: FieldFlag.StaticMember, storage: st(20, 4) });
  d.addField({ name: 'queue', kind: Kind.Int32, annotations: { 'metrics.type': 'gauge' }, flags: FieldFlag.StaticMember, storage: st(24, 4) });
  d.addField({ name: 'slots', kind: Kind.Uint32 | KindFlagArray, tags: ['type:gadget_histogram_slot__u32'], flags: FieldFlag.StaticMember, storage: st(32, 8) });
  return d;
}

test('aggregated on the reader thread (native), an export reports exactly what the JS path reports, derived keys included', async () => {
  const names = new Map([[0, 'root'], [1000, 'alice'], [1001, 'alice']]);
  const recs = Array.from({ length: 5000 }, (_, i) => ({
    comm: ['cat', 'ls', 'bash'][i % 3]!, junk: i % 7 === 0 ? 'left-over' : '', uid: [0, 1000, 1001, 5][i % 4]!,
    bytes: i % 13, queue: (i % 50) - 25, slots: [i % 2, i % 3],
  }));
  const write = (buf: Buffer, o: number, r: (typeof recs)[number]) => {
    buf.write(r.comm, o);
    if (r.junk) buf.write(r.junk, o + r.comm.length + 1);
    buf.writeUInt32LE(r.uid, o + 16);
    buf.writeUInt32LE(r.bytes, o + 20);
    buf.writeInt32LE(r.queue, o + 24);
    buf.writeUInt32LE(r.slots[0]!, o + 32);
    buf.writeUInt32LE(r.slots[1]!, o + 36);
  };
  const run = async (native: boolean) => {
    const d = derivedDs(names);
    const e = new MetricsExport(d, 's');
    const reader = new TestReader();
    const mp = new MeterProvider({ readers: [reader] });
    e.register(mp.getMeter('s'));
    const sub = (b: Batch) => e.collect(b);
    d.subscribe(sub, 9995);
    if (!native) {
      const b = d.newBatch(recs.length);
      recs.forEach((r, i) => write(b.buf, b.offs[i]!, r));
      d.emit(b);
    } else {
      const c = e.aggregateConsumer(sub, (m) => assert.fail(m), () => undefined);
      assert.ok('consumer' in c, 'reason' in c ? c.reason : '');
      c.consumer.attached();
      assert.ok(e.aggregatesNatively);
      // Reader layout, in two halves with a collection in between (deltas, not totals, reach the series).
      for (const half of [recs.slice(0, 2500), recs.slice(2500)]) {
        const buf = Buffer.alloc(half.length * 48);
        half.forEach((r, i) => { buf.writeUInt32LE(40, i * 48); write(buf, i * 48 + 8, r); });
        nativeTestHooks().metricsAggAddBatch(c.consumer.aggregator.handle, buf, half.length);
        if (half.length === 2500 && half[0] === recs[0]) await reader.metrics();
      }
    }
    const m = await reader.metrics();
    await mp.shutdown();
    const out: Record<string, unknown[]> = {};
    for (const [name, md] of m) {
      out[name] = md.dataPoints.map((p) => [JSON.stringify(p.attributes), JSON.stringify(p.value)]).sort();
    }
    return out;
  };
  const js = await run(false);
  const nat = await run(true);
  assert.deepEqual(nat, js);
  // alice (1000 and 1001: two native keys, one series), root and '?'; by three commands.
  assert.equal(js['s/opens']!.length, 9);
  const total = (js['s/opens'] as string[][]).reduce((n, [, v]) => n + Number(v), 0);
  assert.equal(total, 5000);
});

test('what the reader thread cannot aggregate stays in JS, with the reason', () => {
  assert.match((new MetricsExport(ds(), 's').nativeSpec() as { reason: string }).reason, /histogram lat records each value in JS/);
  const d = new DataSource('open', 'single', { annotations: { 'metrics.collect': 'true', 'metrics.implicit-counter.name': 'n' } });
  d.addField({ name: 'name', kind: Kind.String, annotations: { 'metrics.type': 'key' } });
  assert.match((new MetricsExport(d, 's').nativeSpec() as { reason: string }).reason, /key name is computed in JS/);
});
