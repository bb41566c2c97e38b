// The snapshot contract without BPF iterators (include/gadget/snapshot.h): on-demand SEC("raw_tp") programs run
// with BPF_PROG_TEST_RUN at each fetch, their ring drained into one array; fetch-interval / fetch-count /
// ebpf.iter.fetch-on-stop annotations; real iter/* programs refused in one line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runIgSync } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';
import { ProgTap, waitUnloaded } from '../harness/owned-progs.js';

const gadgets = new TestGadgets();
const env = gadgets.env;
const tap = new ProgTap();
after(() => tap.cleanup());
/** The runs' env: our store, and the tap that learns which programs they loaded. */
const runEnv = { ...env, ...tap.env };

const build = (tag: string, source: string, yaml: string) => gadgets.build(tag, source, yaml);

const FIELDS = `    fields:
      index: {annotations: {description: index in the run}}
      run: {annotations: {description: run number}}
      pid: {annotations: {description: process that ran the program}}
params:
  ebpf:
    n_items: {key: n-items, description: records per run}
`;

before(() => {
  build('snap-once', 'snapshot.bpf.c', `name: snap-once\ndatasources:\n  items:\n${FIELDS}`);
  build('snap-periodic', 'snapshot.bpf.c', `name: snap-periodic\ndatasources:\n  items:\n    annotations: {fetch-interval: 200ms, fetch-count: "3"}\n${FIELDS}`);
  build('snap-onstop', 'snapshot.bpf.c', `name: snap-onstop\ndatasources:\n  items:\n    annotations: {ebpf.iter.fetch-on-stop: "true"}\n${FIELDS}`);
  build('snap-iter', 'iter.bpf.c', 'name: snap-iter\ndatasources:\n  tasks:\n    fields:\n      pid: {annotations: {description: pid}}\n');
});

interface Item { index: number; run: number; pid: number }
const arrays = (stdout: string) => stdout.trim().split('\n').filter((l) => l.startsWith('[')).map((l) => JSON.parse(l) as Item[]);

test('default: one snapshot in one array, taken in ig\'s own task, then the gadget ends', () => {
  const r = runIgSync(['run', 'snap-once', '-o', 'json', '--n-items', '5'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const a = arrays(r.stdout);
  assert.equal(a.length, 1);
  assert.deepEqual(a[0]!.map((i) => [i.index, i.run]), [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]]);
  assert.ok(a[0]!.every((i) => i.pid > 1 && i.pid === a[0]![0]!.pid));
});

test('fetch-interval and fetch-count: a fresh snapshot per fetch, no leftovers between them', () => {
  const t0 = Date.now();
  const r = runIgSync(['run', 'snap-periodic', '-o', 'json'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const a = arrays(r.stdout);
  assert.deepEqual(a.map((x) => x.map((i) => `${i.run}.${i.index}`)), [['0.0', '0.1', '0.2'], ['1.0', '1.1', '1.2'], ['2.0', '2.1', '2.2']]);
  assert.ok(Date.now() - t0 >= 400, 'fetches are 200 ms apart');
});

test('ebpf.iter.fetch-on-stop: one more snapshot when the gadget stops', () => {
  const r = runIgSync(['run', 'snap-onstop', '-o', 'json', '--n-items', '1'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(arrays(r.stdout).map((x) => x.map((i) => i.run)), [[0], [1]]);
});

test('columns: one table', () => {
  const r = runIgSync(['run', 'snap-once', '--n-items', '2'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^INDEX\s+RUN\s+PID\n\s*0\s+0\s+\d+\n\s*1\s+0\s+\d+\n$/);
});

test('a snapshotter on a BPF iterator program is refused in one line', () => {
  const r = runIgSync(['run', 'snap-iter'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: gadget snap-iter: snapshotter tasks: program ig_iter_task is a BPF iterator \(iter\/task\), which this kernel does not support/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
