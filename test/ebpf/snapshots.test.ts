// Snapshotters: on-demand SEC("raw_tp") programs (include/gadget/snapshot.h) run with BPF_PROG_TEST_RUN at each
// fetch, their ring drained into one array; BPF iterators (iter/task) read to EOF at each fetch, alone or beside
// an on-demand program in one data source; fetch-interval / fetch-count / ebpf.iter.fetch-on-stop annotations.
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
  const TASKS = '    fields:\n      pid: {annotations: {description: pid}}\n      run: {annotations: {description: walk}}\n      kind: {annotations: {description: program}}\n';
  build('snap-iter', 'iter.bpf.c', `name: snap-iter\ndatasources:\n  tasks:\n${TASKS}`);
  build('snap-iter-periodic', 'iter.bpf.c', `name: snap-iter-periodic\ndatasources:\n  tasks:\n    annotations: {fetch-interval: 200ms, fetch-count: "3"}\n${TASKS}`);
  build('snap-iter-onstop', 'iter.bpf.c', `name: snap-iter-onstop\ndatasources:\n  tasks:\n    annotations: {ebpf.iter.fetch-on-stop: "true"}\n${TASKS}`);
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

interface Task { pid: number; run: number; kind: number }
const taskArrays = (stdout: string) => stdout.trim().split('\n').filter((l) => l.startsWith('[')).map((l) => JSON.parse(l) as Task[]);

/** One fetch: the on-demand program's record (ig's pid) first, then the iterator's, ig among them, of one walk. */
function checkFetch(a: Task[], run: number): void {
  assert.equal(a[0]!.kind, 2, 'the on-demand program\'s record comes first');
  const ig = a[0]!.pid;
  assert.ok(ig > 1);
  const walk = a.slice(1);
  assert.ok(walk.length > 1 && walk.every((t) => t.kind === 1 && t.run === run), `one walk, number ${run}`);
  assert.ok(walk.some((t) => t.pid === ig), 'ig itself is among the tasks the iterator walked');
}

test('a BPF iterator snapshotter (iter/task) beside an on-demand program: one array with both, then the gadget ends', () => {
  const r = runIgSync(['run', 'snap-iter', '-o', 'json'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const a = taskArrays(r.stdout);
  assert.equal(a.length, 1);
  checkFetch(a[0]!, 0);
});

test('iterators with fetch-interval and fetch-count: a new walk per fetch', () => {
  const r = runIgSync(['run', 'snap-iter-periodic', '-o', 'json'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const a = taskArrays(r.stdout);
  assert.equal(a.length, 3);
  a.forEach((x, k) => checkFetch(x, k));
});

test('iterators with ebpf.iter.fetch-on-stop: one more walk when the gadget stops (the link is attached again after the detach)', () => {
  const r = runIgSync(['run', 'snap-iter-onstop', '-o', 'json'], { env: runEnv, timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const a = taskArrays(r.stdout);
  assert.equal(a.length, 2);
  checkFetch(a[0]!, 0);
  // the stop's walk is the first of a new link: the program's global counter still counts across links
  checkFetch(a[1]!, 1);
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
