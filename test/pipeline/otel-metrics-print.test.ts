// The print mode of the otel-metrics operator through the cli operator's output modes (no kernel): records summed
// per key, histograms printed once at stop, as text or JSON, on a terminal with a clear screen first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, FieldFlag, Kind, KindFlagArray } from '../../src/datasource/index.js';
import { GadgetContext } from '../../src/gadget/context.js';
import { parseMetadata } from '../../src/gadget/metadata.js';
import { cliOperator, type Sink } from '../../src/operators/cli/operator.js';
import { metricRole, otelMetricsOperator } from '../../src/operators/otel-metrics/operator.js';

/** A profiler-like array data source: u32 dev (key) + u32 latency[6] (log2 slots) + u64 total (counter). */
function profilerDs(ctx: GadgetContext): DataSource {
  const ds = ctx.addDataSource('blockio', 'array');
  ds.annotations.set('metrics.print', 'true');
  ds.annotations.set('cli.default-output-mode', 'none');
  ds.staticSize = 36;
  ds.addField({ name: 'dev', kind: Kind.Uint32, annotations: { 'metrics.type': 'key' }, flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'latency', kind: Kind.Uint32 | KindFlagArray, tags: ['type:gadget_histogram_slot__u32'], annotations: { 'metrics.unit': 'µs' }, flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 4, size: 24 } });
  ds.addField({ name: 'total', kind: Kind.Uint64, tags: ['type:gadget_counter__u64'], flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 28, size: 8 } });
  return ds;
}

function emitRecords(ds: DataSource, recs: { dev: number; slots: number[]; total: number }[]): void {
  const b = ds.newBatch(recs.length);
  recs.forEach((r, i) => {
    const o = i * 36;
    b.buf.writeUInt32LE(r.dev, o);
    r.slots.forEach((v, k) => b.buf.writeUInt32LE(v, o + 4 + 4 * k));
    b.buf.writeBigUInt64LE(BigInt(r.total), o + 28);
  });
  ds.emit(b);
}

async function run(output: string | undefined, feed: (ds: DataSource) => void, isTTY = false): Promise<{ out: string; ctx: GadgetContext }> {
  const ctx = new GadgetContext({ reference: 'test', digest: '', ebpf: null, wasm: null, annotations: {} }, parseMetadata('name: test'));
  const ds = profilerDs(ctx);
  let out = '';
  const sink: Sink = { write: (s) => { out += s; }, isTTY };
  await ctx.instantiate([], [otelMetricsOperator, cliOperator(sink)]);
  if (output) ctx.params.set('operator.cli.output', output);
  const insts = ctx.instances.map((i) => i.inst);
  for (const i of insts) await i.preStart?.(ctx);
  for (const i of insts) await i.start?.(ctx);
  feed(ds);
  for (const i of [...insts].reverse()) await i.stop?.(ctx);
  for (const i of [...insts].reverse()) await i.postStop?.(ctx);
  return { out, ctx };
}

test('roles come from metrics.type or the BTF typedefs', () => {
  const ctx = new GadgetContext({ reference: 'test', digest: '', ebpf: null, wasm: null, annotations: {} }, parseMetadata('name: t'));
  const ds = profilerDs(ctx);
  assert.deepEqual(ds.fields.map((f) => metricRole(f)), ['key', 'histogram', 'counter']);
});

test('print mode: records are summed per key and printed once, when the gadget stops', async () => {
  const { out, ctx } = await run(undefined, (ds) => {
    emitRecords(ds, [{ dev: 0, slots: [1, 2, 0, 0, 0, 0], total: 3 }]);
    emitRecords(ds, [{ dev: 0, slots: [0, 2, 4, 0, 0, 0], total: 6 }]); // a second map fetch (deltas)
  });
  assert.equal(ctx.dataSources.get('blockio')!.referenced, false, 'the original is not printed');
  const rendered = ctx.dataSources.get('blockio-rendered')!;
  assert.equal(rendered.annotations.get('cli.default-output-mode'), 'histogram');
  assert.equal(rendered.annotations.get('metrics.print'), 'true', 'non-cli annotations are copied');
  assert.equal(out, [
    'latency',
    '        µs               : count    distribution',
    '         0 -> 1          : 1        |**********                              |',
    '         2 -> 3          : 4        |****************************************|',
    '         4 -> 7          : 4        |****************************************|',
    '',
    'total: 9',
    '',
  ].join('\n'));
});

test('print mode: several keys give labelled histograms; JSON is structured', async () => {
  const feed = (ds: DataSource) => emitRecords(ds, [{ dev: 8388608, slots: [0, 0, 1, 0, 0, 0], total: 1 }, { dev: 7340032, slots: [5, 0, 0, 0, 0, 0], total: 5 }]);
  const text = (await run(undefined, feed)).out;
  assert.match(text, /^latency \[dev=7340032\]\n {8}µs {14} : count {4}distribution\n {9}0 -> 1 {10}: 5 /m);
  assert.match(text, /^latency \[dev=8388608\]$/m);
  const json = (await run('json', feed)).out.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(json, [
    { dev: '7340032', latency: { unit: 'µs', intervals: [{ count: 5, start: 0, end: 1 }] }, total: 5 },
    { dev: '8388608', latency: { unit: 'µs', intervals: [{ count: 0, start: 0, end: 1 }, { count: 0, start: 2, end: 3 }, { count: 1, start: 4, end: 7 }] }, total: 1 },
  ]);
});

test('print mode: -o columns prints the text too; a terminal gets a clear screen first', async () => {
  const feed = (ds: DataSource) => emitRecords(ds, [{ dev: 0, slots: [1, 0, 0, 0, 0, 0], total: 1 }]);
  const cols = (await run('columns', feed)).out;
  assert.match(cols, /^latency\n/);
  const tty = (await run(undefined, feed, true)).out;
  assert.ok(tty.startsWith('\x1b[H\x1b[2Jlatency\n'), JSON.stringify(tty.slice(0, 30)));
});

test('print mode: nothing collected still shows the metric and its unit', async () => {
  const { out } = await run(undefined, () => undefined);
  assert.equal(out, 'latency\n        µs               : count    distribution\n\ntotal: 0\n');
});
