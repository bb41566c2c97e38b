import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EarlyLog } from './early-log.js';
import { LogLevel } from './consts.js';

const msg = (i: number) => ({ level: LogLevel.Info, msg: `m${i}` });

test('under the bound every message is kept in order, with no dropped note', () => {
  const l = new EarlyLog(2, 3);
  for (let i = 0; i < 5; i++) l.push(msg(i));
  assert.equal(l.dropped, 0);
  assert.deepEqual(l.messages().map((m) => m.msg), ['m0', 'm1', 'm2', 'm3', 'm4']);
});

test('a long headless run keeps the first and the last messages and says how many were dropped in between', () => {
  const l = new EarlyLog(2, 3);
  for (let i = 0; i < 100_000; i++) l.push(msg(i));
  assert.equal(l.dropped, 100_000 - 5);
  const out = l.messages();
  assert.equal(out.length, 6, 'memory is bounded: 2 first + 1 note + 3 last');
  assert.deepEqual(out.map((m) => m.msg).filter((m) => m.startsWith('m')), ['m0', 'm1', 'm99997', 'm99998', 'm99999']);
  assert.equal(out[2]!.level, LogLevel.Warn);
  assert.match(out[2]!.msg, /^99995 messages .* dropped/);
});

test('with no tail kept, later messages are only counted', () => {
  const l = new EarlyLog(1, 0);
  for (let i = 0; i < 4; i++) l.push(msg(i));
  assert.deepEqual(l.messages().map((m) => m.msg.slice(0, 12)), ['m0', '3 messages o']);
});
