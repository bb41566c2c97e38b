// The merge of many nodes' streams: k8s.node on every record, columns mapped by name, arrays gathered per round
// and sorted / cut to --max-entries over the merged total (not per node), another layout left out with one warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeDs, makeBatch, RECS } from '../../../test/pipeline/fixtures.js';
import { Kind, type Batch, type DataSource } from '../../datasource/index.js';
import { StreamMerger } from './merge.js';

function collect(opts: { sort?: string; maxEntries?: string; live?: string[]; firstLingerMs?: number } = {}) {
  const out: { ds: DataSource; b: Batch }[] = [];
  const warnings: string[] = [];
  const live = new Set(opts.live ?? ['node-a', 'node-b']);
  const m = new StreamMerger({ sort: opts.sort, maxEntries: opts.maxEntries, liveNodes: () => live, lingerMs: 50, firstLingerMs: opts.firstLingerMs ?? 50, emit: (ds, b) => out.push({ ds, b }), warn: (w) => warnings.push(w) });
  return { m, out, warnings, live };
}

function rows(ds: DataSource, b: Batch, names: string[]): unknown[][] {
  const fs = names.map((n) => ds.getField(n)!);
  return [...b.indices()].map((i) => fs.map((f) => f.get(b, i)));
}

test('streams: each node\'s batches reach one data source, every record with its node', () => {
  const { m, out } = collect();
  const a = makeDs();
  const b = makeDs();
  assert.equal(m.announce('node-a', [a]), true);
  assert.equal(m.announce('node-b', [b]), false, 'same data source name: nothing new for the output');
  m.push('node-a', a, makeBatch(a, RECS.slice(0, 1)));
  m.push('node-b', b, makeBatch(b, RECS.slice(1)));
  assert.equal(out.length, 2);
  const ds = m.dataSources()[0]!;
  assert.ok(out.every((o) => o.ds === ds));
  assert.deepEqual(out.flatMap((o) => rows(ds, o.b, ['k8s.node', 'pid', 'comm'])), [['node-a', 42, 'cat'], ['node-b', 7, 'bash'], ['node-b', 1234, 'catalina']]);
  assert.equal(ds.getField('k8s.node')!.hidden, false);
});

test('value columns are mapped by field name; the node\'s own k8s.node wins when it has one', () => {
  const { m, out } = collect();
  const a = makeDs();
  a.addField({ name: 'extra', kind: Kind.String });
  const b = makeDs();
  b.addField({ name: 'other', kind: Kind.String }); // column 0 on node-b is another field
  b.addField({ name: 'extra', kind: Kind.String }); // column 1 on node-b
  m.announce('node-a', [a]);
  m.announce('node-b', [b]);
  const bb = makeBatch(b, RECS.slice(0, 1));
  b.getField('other')!.set(bb, 0, 'no');
  b.getField('extra')!.set(bb, 0, 'yes');
  m.push('node-b', b, bb);
  assert.deepEqual(rows(a, out[0]!.b, ['extra', 'k8s.node']), [['yes', 'node-b']]);
  const c = makeDs();
  const k8s = c.addField({ name: 'k8s', kind: Kind.Invalid, flags: 1 });
  c.addField({ name: 'node', parent: k8s, kind: Kind.String });
  const { m: m2, out: out2 } = collect();
  m2.announce('node-c', [c]);
  const cb = makeBatch(c, RECS.slice(0, 2));
  c.getField('k8s.node')!.set(cb, 0, 'from-kubemanager');
  m2.push('node-c', c, cb);
  assert.deepEqual(rows(c, out2[0]!.b, ['k8s.node']), [['from-kubemanager'], ['node-c']]);
});

test('arrays: one round of every live node, sorted and cut to --max-entries over the merged total', () => {
  const { m, out } = collect({ sort: '-pid', maxEntries: '2' });
  const a = makeDs('array');
  const b = makeDs('array');
  m.announce('node-a', [a]);
  m.announce('node-b', [b]);
  m.push('node-a', a, makeBatch(a, [RECS[0]!, RECS[1]!])); // pids 42, 7
  assert.equal(out.length, 0, 'the round waits for node-b');
  m.push('node-b', b, makeBatch(b, [{ ...RECS[1]!, pid: 99 }, { ...RECS[2]!, pid: 1 }])); // pids 99, 1
  assert.equal(out.length, 1);
  // Per node, a limit of 2 would keep all four; over the total: the two largest of the cluster.
  assert.deepEqual(rows(a, out[0]!.b, ['pid', 'k8s.node']), [[99, 'node-b'], [42, 'node-a']]);
});

test('arrays: a round does not wait past the linger for a node that sends nothing', async () => {
  const { m, out } = collect({ sort: 'pid' });
  const a = makeDs('array');
  m.announce('node-a', [a]);
  m.push('node-a', a, makeBatch(a, RECS));
  assert.equal(out.length, 0);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(out.length, 1);
  assert.deepEqual(rows(a, out[0]!.b, ['pid']), [[7], [42], [1234]]);
});

test('arrays: the first round waits longer for a node that starts late; later rounds wait the usual linger', async () => {
  const { m, out } = collect({ sort: 'pid', firstLingerMs: 400 });
  const a = makeDs('array');
  const b = makeDs('array');
  m.announce('node-a', [a]);
  m.announce('node-b', [b]);
  m.push('node-a', a, makeBatch(a, RECS.slice(0, 1)));
  await new Promise((r) => setTimeout(r, 150)); // past lingerMs (50), within firstLingerMs (400)
  assert.equal(out.length, 0, 'the first round still waits for node-b');
  m.push('node-b', b, makeBatch(b, RECS.slice(1)));
  assert.equal(out.length, 1, 'complete: out at once');
  assert.deepEqual(rows(a, out[0]!.b, ['pid', 'k8s.node']), [[7, 'node-b'], [42, 'node-a'], [1234, 'node-b']]);
  m.push('node-a', a, makeBatch(a, RECS.slice(0, 1)));
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(out.length, 2, 'the second round went out after lingerMs without node-b');
  assert.deepEqual(rows(a, out[1]!.b, ['pid', 'k8s.node']), [[42, 'node-a']]);
});

test('a node whose data source has another layout is left out, said once', () => {
  const { m, out, warnings } = collect();
  const a = makeDs();
  const b = makeDs();
  (b.getField('pid')!.storage as { offs: number }).offs = 4;
  m.announce('node-a', [a]);
  m.announce('node-b', [b]);
  m.push('node-b', b, makeBatch(b, RECS));
  m.push('node-b', b, makeBatch(b, RECS));
  assert.equal(out.length, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^node node-b: data source open differs from the other nodes' \(field pid\)/);
});

test('arrays: a node that ends without sending completes the round at once (no linger)', () => {
  const { m, out, live } = collect({ sort: 'pid' });
  const a = makeDs('array');
  m.announce('node-a', [a]);
  m.push('node-a', a, makeBatch(a, RECS));
  assert.equal(out.length, 0, 'waits for node-b');
  live.delete('node-b');
  m.nodeGone();
  assert.equal(out.length, 1);
  assert.deepEqual(rows(a, out[0]!.b, ['pid', 'k8s.node']), [[7, 'node-a'], [42, 'node-a'], [1234, 'node-a']]);
});
