// DataSource and Field: static reads, u64 exactness, templates and configuration, subscribers, columns, writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeDs, makeBatch, RECS } from '../../test/pipeline/fixtures.js';
import { Kind } from './index.js';

test('static fields read in place from the record bytes', () => {
  const ds = makeDs();
  const b = makeBatch(ds, RECS);
  const pid = ds.getField('pid')!;
  const comm = ds.getField('comm')!;
  const mntns = ds.getField('mntns_id')!;
  assert.deepEqual([...b.indices()].map((i) => pid.get(b, i)), [42, 7, 1234]);
  assert.deepEqual([...b.indices()].map((i) => comm.get(b, i)), ['cat', 'bash', 'catalina']);
  assert.equal(mntns.get(b, 0), 4026531832);
});

test('u64 values beyond 2^53 come back exact as BigInt', () => {
  const ds = makeDs();
  const b = makeBatch(ds, [{ ...RECS[0]!, ts: 1764201600123456789n }]);
  assert.equal(ds.getField('timestamp_raw')!.get(b, 0), 1764201600123456789n);
});

test('templates and gadget.yaml annotations are applied in upstream order', () => {
  const ds = makeDs('single', { fields: { pid: { annotations: { 'columns.width': '9', 'columns.hidden': 'true' }, tags: ['extra'] } } });
  const pid = ds.getField('pid')!;
  assert.equal(pid.annotation('columns.minwidth'), '7'); // from the pid template
  assert.equal(pid.annotation('columns.width'), '9');     // gadget.yaml wins
  assert.equal(pid.hidden, true);
  assert.ok(pid.hasTag('extra'));
  assert.equal(ds.getField('mntns_id')!.hidden, true);    // mntns_id template hides it
});

test('getField falls back to a case-insensitive match', () => {
  const ds = makeDs();
  assert.equal(ds.getField('COMM')!.fullName, 'comm');
  assert.equal(ds.getField('nope'), undefined);
});

test('subscribers run in ascending priority, stably, and stop when a single batch is emptied', () => {
  const ds = makeDs();
  const seen: string[] = [];
  ds.subscribe(() => seen.push('b10'), 10);
  ds.subscribe(() => seen.push('a0'), 0);
  ds.subscribe((b) => { seen.push('c10'); b.liveCount = 0; }, 10);
  ds.subscribe(() => seen.push('never'), 100);
  ds.emit(makeBatch(ds, RECS));
  assert.deepEqual(seen, ['a0', 'b10', 'c10']);
});

test('column fields store per-record values beside the batch', () => {
  const ds = makeDs();
  const f = ds.addField({ name: 'container', kind: Kind.String });
  const b = makeBatch(ds, RECS);
  f.set(b, 1, 'web');
  assert.equal(f.get(b, 1), 'web');
  assert.equal(f.get(b, 0), undefined);
  assert.throws(() => ds.addField({ name: 'container', kind: Kind.String }), /already exists/);
});

test('writing a short string into a static member zero-pads it', () => {
  const ds = makeDs();
  const b = makeBatch(ds, RECS);
  const comm = ds.getField('comm')!;
  comm.set(b, 2, 'ls');
  assert.equal(comm.get(b, 2), 'ls');
  assert.equal(b.buf[2 * 48 + 12 + 5], 0);
  assert.throws(() => comm.set(b, 2, 'x'.repeat(17)), /longer than 16 bytes/);
});

test('batches may be reused after emit only when every subscriber lets go of them', () => {
  const ds = makeDs();
  assert.equal(ds.releasesBatches(), true, 'nobody subscribed: nobody holds a batch');
  ds.subscribe(() => {}, 0, { releasesBatch: true });
  ds.subscribe(() => {}, 5, { nativeEquivalent: true, releasesBatch: true });
  assert.equal(ds.releasesBatches(), true);
  const kept: unknown[] = [];
  ds.subscribe((b) => kept.push(b), 10); // says nothing: assumed to keep its batches
  assert.equal(ds.releasesBatches(), false);
});
