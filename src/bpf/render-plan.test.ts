// Render plans are checked when they are made: out-of-range ops, and two ops sharing one memo (a render resolves
// every memo op's fragment before writing, and a lookup may free entries of its memo, so a second op on the same
// memo could print a freed fragment). The test-only render export exists only in the test build of the addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { nativeTestHooks } from '../../test/harness/native-test-addon.js';
import { native } from './native.js';
import { repoRoot } from '../../test/harness/ig.js';

const OP = { LIT: 1, UINT: 2, WALL_STR: 7, MEMO: 8 } as const;
const ops = (...q: number[][]) => Int32Array.from(q.flat());
/** memo specs: count, then per memo (ttlMs, nranges, (off, len)*) */
const memos = (...m: number[][]) => Int32Array.from([m.length, ...m.flat()]);
const lits = Buffer.from('{"a":,"b":}');

test('a plan whose ops share one memo is refused', () => {
  const key = [0, 1, 0, 4];
  assert.throws(() => native.renderPlanNew(ops([OP.MEMO, 0, 0, 0], [OP.MEMO, 0, 0, 0]), lits, memos(key), 0n), /render plan: two ops share one memo/);
  assert.throws(() => native.renderPlanNew(ops([OP.WALL_STR, 0, 0, 0], [OP.WALL_STR, 8, 0, 0]), lits, memos([0, 0]), 0n), /two ops share one memo/);
  assert.throws(() => native.renderPlanNew(ops([OP.MEMO, 0, 0, 0]), lits, memos([0, 0]), 0n), /memo without a key/);
  // One memo per op is fine.
  const p = native.renderPlanNew(ops([OP.LIT, 0, 5, 0], [OP.MEMO, 0, 0, 0], [OP.LIT, 5, 5, 0], [OP.MEMO, 1, 0, 0], [OP.LIT, 10, 1, 0]), lits, memos(key, key), 0n);
  const rec = Buffer.alloc(16);
  rec.writeUInt32LE(4, 0); // reader layout: [u32 len][u32 cpu][payload]
  rec.writeUInt32LE(7, 8);
  const hooks = nativeTestHooks();
  assert.deepEqual(hooks.renderPlanRender(p, rec, 1).missed, [0]);
  native.renderPlanMemoSet(p, 0, Buffer.from([7, 0, 0, 0]), Buffer.from('1'));
  native.renderPlanMemoSet(p, 1, Buffer.from([7, 0, 0, 0]), Buffer.from('"x"'));
  assert.equal(hooks.renderPlanRender(p, rec, 1).out.toString(), '{"a":1,"b":"x"}\n');
});

test('ops that read outside the record layout or the literals are refused', () => {
  assert.throws(() => native.renderPlanNew(ops([OP.LIT, 0, 99, 0]), lits, memos(), 0n), /literal out of range/);
  assert.throws(() => native.renderPlanNew(ops([OP.UINT, 0, 3, 0]), lits, memos(), 0n), /integer size/);
  assert.throws(() => native.renderPlanNew(ops([OP.MEMO, 2, 0, 0]), lits, memos([0, 1, 0, 4]), 0n), /memo index/);
  assert.throws(() => native.renderPlanNew(ops([9, 0, 0, 0]), lits, memos(), 0n), /unknown op/);
});

test('the production build does not export the test-only render call', () => {
  const require = createRequire(import.meta.url);
  const prod = require(join(repoRoot(), 'native', 'build', 'Release', 'ig_native.node')) as Record<string, unknown>;
  assert.equal(typeof prod['renderPlanNew'], 'function');
  assert.equal(prod['renderPlanRender'], undefined);
});
