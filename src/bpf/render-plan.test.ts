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
  assert.throws(() => native.renderPlanNew(ops([99, 0, 0, 0]), lits, memos(), 0n), /unknown op/);
  // filters: the tree must span exactly the ops it declares; constants and memos must exist
  const F = { FILTER: 19, AND: 20, CONST: 23, UINT: 24, STR: 27, MEMO: 28 } as const;
  assert.throws(() => native.renderPlanNew(ops([F.FILTER, 2, 0, 0], [F.CONST, 1, 0, 0]), lits, memos(), 0n), /filter length/);
  assert.throws(() => native.renderPlanNew(ops([F.FILTER, 2, 0, 0], [F.AND, 2, 2, 0], [F.CONST, 1, 0, 0]), lits, memos(), 0n), /filter/);
  assert.throws(() => native.renderPlanNew(ops([F.FILTER, 1, 0, 0], [F.UINT, 0, 4, 8]), lits, memos(), 0n), /filter integer comparison/);
  assert.throws(() => native.renderPlanNew(ops([F.FILTER, 1, 0, 0], [F.STR, 0, 16, 0]), Buffer.from([200, 0, 0, 0]), memos(), 0n), /filter string comparison/);
  assert.throws(() => native.renderPlanNew(ops([F.FILTER, 1, 0, 0], [F.MEMO, 0, 0, 0]), lits, memos(), 0n), /filter memo/);
  // column cells need their {width, limit, flags} in the literals
  assert.throws(() => native.renderPlanNew(ops([10, 0, 4, 4]), lits, memos(), 0n), /column format/);
  assert.throws(() => native.renderPlanNew(ops([13, 0, 5000, 0]), Buffer.alloc(12), memos(), 0n), /string column size/);
});

test('the production build does not export the test-only render call', () => {
  const require = createRequire(import.meta.url);
  const prod = require(join(repoRoot(), 'native', 'build', 'Release', 'ig_native.node')) as Record<string, unknown>;
  assert.equal(typeof prod['renderPlanNew'], 'function');
  assert.equal(prod['renderPlanRender'], undefined);
});
