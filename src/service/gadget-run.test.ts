import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameLatencyMs } from './gadget-run.js';

test('frameLatencyMs: 25 ms unless IG_WIRE_FRAME_MS names a whole number of ms from 1 to 1000', () => {
  assert.equal(frameLatencyMs(undefined), 25);
  assert.equal(frameLatencyMs(''), 25);
  assert.equal(frameLatencyMs('10'), 10);
  assert.equal(frameLatencyMs('1000'), 1000);
  for (const bad of ['0', '-5', '2.5', '1001', 'ten']) assert.equal(frameLatencyMs(bad), 25, bad);
});
