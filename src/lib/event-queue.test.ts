import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, Kind } from '../datasource/index.js';
import { EventQueue } from './event-queue.js';
import { viewClass, viewFields } from './views.js';
import type { LostEvents } from './api.js';

function source(): DataSource {
  const ds = new DataSource('ev', 'single');
  ds.staticSize = 8;
  ds.addField({ name: 'n', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  return ds;
}

function batch(ds: DataSource, from: number, count: number) {
  const b = ds.newBatch(count);
  for (let i = 0; i < count; i++) ds.getField('n')!.set(b, i, from + i);
  return b;
}

test('events come out in order, only the live ones; the end after the last', async () => {
  const ds = source();
  const V = viewClass(ds, viewFields(ds));
  const q = new EventQueue({ pause: () => true }, 1 << 20);
  const b = batch(ds, 0, 4);
  b.retain((i) => i !== 2);
  q.push(b, V);
  q.push(batch(ds, 10, 2), V);
  q.end();
  const got: number[] = [];
  for (;;) {
    const r = await q.next();
    if (r.done) break;
    got.push((r.value as unknown as { n: number }).n);
  }
  assert.deepEqual(got, [0, 1, 3, 10, 11]);
});

test('past maxBytes the producer is paused, and resumed once the consumer has taken half', async () => {
  const ds = source();
  const V = viewClass(ds, viewFields(ds));
  const calls: boolean[] = [];
  const q = new EventQueue({ pause: (_ds, p) => { calls.push(p); return true; } }, 1000);
  for (let k = 0; k < 6; k++) q.push(batch(ds, k * 10, 10), V); // 10 × 8 bytes + 10 × 4 live = 120 bytes each
  assert.deepEqual(calls, []);
  for (let k = 6; k < 10; k++) q.push(batch(ds, k * 10, 10), V);
  assert.deepEqual(calls, [true], 'paused once, not per batch');
  let n = 0;
  while (calls.length === 1) { await q.next(); n++; }
  assert.deepEqual(calls, [true, false]);
  assert.ok(n > 40 && n <= 70, `resumed after ${n} events`);
  assert.equal(q.lost, 0);
});

test('a producer that cannot pause loses whole batches past maxBytes, counted', async () => {
  const ds = source();
  const V = viewClass(ds, viewFields(ds));
  const lost: LostEvents[] = [];
  const q = new EventQueue({ pause: () => false }, 250, (l) => lost.push(l));
  for (let k = 0; k < 5; k++) q.push(batch(ds, k * 10, 10), V);
  q.end();
  let n = 0;
  for (;;) { const r = await q.nextBatch(); if (r.done) break; n += r.value.length; }
  assert.equal(n, 20);
  assert.equal(q.lost, 30);
  assert.deepEqual(lost, [1, 2, 3].map(() => ({ dataSource: 'ev', count: 10, cause: 'queue full' })));
});

test('an end with an error: queued events first, then the error; clear() drops what is queued', async () => {
  const ds = source();
  const V = viewClass(ds, viewFields(ds));
  const q = new EventQueue({ pause: () => true }, 1 << 20);
  q.push(batch(ds, 0, 1), V);
  q.end(new Error('boom'));
  assert.equal(((await q.next()).value as unknown as { n: number }).n, 0);
  await assert.rejects(q.next(), /boom/);
  const q2 = new EventQueue({ pause: () => true }, 1 << 20);
  q2.push(batch(ds, 0, 3), V);
  q2.clear();
  q2.end();
  assert.equal((await q2.next()).done, true);
});

test('a consumer waiting for events wakes when a batch arrives', async () => {
  const ds = source();
  const V = viewClass(ds, viewFields(ds));
  const q = new EventQueue({ pause: () => true }, 1 << 20);
  const p = q.next();
  setTimeout(() => q.push(batch(ds, 5, 1), V), 10);
  assert.equal(((await p).value as unknown as { n: number }).n, 5);
});
