// Histogram rendering: log2 slots as intervals, the upstream/BCC text layout, and JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramJson, intervalsFromLog2Slots, renderHistogram, stars } from './histogram.js';

test('log2 slots become [2^i, 2^(i+1)-1] intervals up to the last non-empty slot', () => {
  assert.deepEqual(intervalsFromLog2Slots([1, 0, 4, 2, 0, 0]), [
    { count: 1, start: 0, end: 1 }, { count: 0, start: 2, end: 3 }, { count: 4, start: 4, end: 7 }, { count: 2, start: 8, end: 15 },
  ]);
  assert.deepEqual(intervalsFromLog2Slots([0, 0, 0]), []);
  assert.equal(intervalsFromLog2Slots(new Array(27).fill(1)).at(-1)!.end, 2 ** 27 - 1);
});

test('bars: count * 40 / max stars, padded to 40', () => {
  assert.equal(stars(10, 10), '*'.repeat(40));
  assert.equal(stars(5, 10), '*'.repeat(20) + ' '.repeat(20));
  assert.equal(stars(1, 1000), ' '.repeat(40));
  assert.equal(stars(0, 0), ' '.repeat(40));
});

test('text layout matches upstream (print_log2_hist)', () => {
  const text = renderHistogram({ unit: 'µs', intervals: intervalsFromLog2Slots([0, 3, 6, 0, 12]) });
  assert.equal(text, [
    '        µs               : count    distribution',
    '         0 -> 1          : 0        |                                        |',
    '         2 -> 3          : 3        |**********                              |',
    '         4 -> 7          : 6        |********************                    |',
    '         8 -> 15         : 0        |                                        |',
    '        16 -> 31         : 12       |****************************************|',
    '',
  ].join('\n'));
  assert.equal(renderHistogram({ intervals: [] }), '');
});

test('JSON: unit then intervals with count, start, end (unit omitted when empty)', () => {
  const h = { unit: 'ms', intervals: intervalsFromLog2Slots([2, 1]) };
  assert.equal(histogramJson(h), '{"unit":"ms","intervals":[{"count":2,"start":0,"end":1},{"count":1,"start":2,"end":3}]}');
  assert.deepEqual(JSON.parse(histogramJson(h)), h);
  assert.equal(histogramJson({ intervals: [] }), '{"intervals":[]}');
});
