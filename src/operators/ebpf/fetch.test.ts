// Map-iterator fetch schedules: global and per-data-source values, interval 0, and the limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS, mapFetchPlans, validateCountList, validateIntervalList } from './fetch.js';

test('defaults: every second, unlimited', () => {
  assert.deepEqual([...mapFetchPlans('1000ms', '0', ['file'])], [['file', { intervalMs: 1000, count: 0 }]]);
});

test('per data source values override the bare one', () => {
  const p = mapFetchPlans('2s,tcp:500ms', 'file:3', ['file', 'tcp']);
  assert.deepEqual(p.get('file'), { intervalMs: 2000, count: 3 });
  assert.deepEqual(p.get('tcp'), { intervalMs: 500, count: 0 });
});

test('interval 0: fetch at stop; with a count above 1 it is an error', () => {
  assert.deepEqual(mapFetchPlans('0', '1', ['a']).get('a'), { intervalMs: 0, count: 1 });
  assert.deepEqual(mapFetchPlans('0', '0', ['a']).get('a'), { intervalMs: 0, count: 0 });
  assert.throws(() => mapFetchPlans('0', '2', ['a']), /--map-fetch-interval 0 \(fetch once, when the gadget stops\) cannot be combined with --map-fetch-count 2/);
});

test('intervals a timer cannot wait are refused, with the limit', () => {
  assert.equal(MAX_TIMER_MS, 2147483647);
  assert.deepEqual(mapFetchPlans('596h', '0', ['a']).get('a'), { intervalMs: 596 * 3600000, count: 0 });
  assert.throws(() => mapFetchPlans('600h', '0', ['a']), /600h is too long: the longest interval is 2147483647 ms/);
  assert.match(validateIntervalList('a:600h')!, /too long/);
  assert.equal(validateIntervalList('480h'), undefined);
});

test('bad values and unknown data sources are named', () => {
  assert.throws(() => mapFetchPlans('soon', '0', ['a']), /invalid duration "soon"/);
  assert.throws(() => mapFetchPlans('1s', 'x', ['a']), /invalid count "x"/);
  assert.throws(() => mapFetchPlans('b:1s', '0', ['a']), /no map iterator data source "b" \(have: a\)/);
  assert.match(validateCountList('-1')!, /invalid count/);
  assert.equal(validateCountList('a:2,3'), undefined);
});
