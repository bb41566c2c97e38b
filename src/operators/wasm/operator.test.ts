// The host API against guests written directly in WebAssembly text with upstream's raw imports, and every
// way a guest can misbehave (each ends the run with one line naming the module and what it did).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WasmOperator } from './operator.js';
import { WasmError } from './errors.js';
import { IMPORTS, eventsContext, lp, strings, wat } from './testutil.js';
import type { Batch } from '../../datasource/index.js';

const S = strings(['events', 'pid', 'uid', 'comm', 'pid_plus_uid', 'comm_copy', 'note', 'hello from wasm', 'wasm-tag', 'greeting', 'out', 'n']);

/** A guest that adds pid_plus_uid (uint64), note (string) and comm_copy (string) to every event. */
const ADDER = `(module ${IMPORTS}
  (memory (export "memory") 1)
  ${S.data}
  (global $ds (mut i32) (i32.const 0))
  (global $pid (mut i32) (i32.const 0))
  (global $uid (mut i32) (i32.const 0))
  (global $comm (mut i32) (i32.const 0))
  (global $sum (mut i32) (i32.const 0))
  (global $note (mut i32) (i32.const 0))
  (global $copy (mut i32) (i32.const 0))
  (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
  (func (export "gadgetInit") (result i32)
    (global.set $ds (call $getDs (i64.const ${S.at['events']})))
    (if (i32.eqz (global.get $ds)) (then (return (i32.const 1))))
    (global.set $pid (call $getF (global.get $ds) (i64.const ${S.at['pid']})))
    (global.set $uid (call $getF (global.get $ds) (i64.const ${S.at['uid']})))
    (global.set $comm (call $getF (global.get $ds) (i64.const ${S.at['comm']})))
    (global.set $sum (call $addF (global.get $ds) (i64.const ${S.at['pid_plus_uid']}) (i32.const 9)))
    (global.set $note (call $addF (global.get $ds) (i64.const ${S.at['note']}) (i32.const 12)))
    (global.set $copy (call $addF (global.get $ds) (i64.const ${S.at['comm_copy']}) (i32.const 12)))
    (drop (call $addTag (global.get $sum) (i64.const ${S.at['wasm-tag']})))
    (call $sub (global.get $ds) (i32.const 1) (i32.const 0) (i64.const 7)))
  (func (export "dataSourceCallback") (param $cb i64) (param $ds i32) (param $data i32)
    (local $n i32)
    (if (i64.ne (local.get $cb) (i64.const 7)) (then unreachable))
    (drop (call $set (global.get $sum) (local.get $data) (i32.const 9)
      (i64.add (call $get (global.get $pid) (local.get $data) (i32.const 8) (i32.const 0))
               (call $get (global.get $uid) (local.get $data) (i32.const 8) (i32.const 0)))))
    (drop (call $set (global.get $note) (local.get $data) (i32.const 12) (i64.const ${S.at['hello from wasm']})))
    (local.set $n (call $getBuf (global.get $comm) (local.get $data) (i32.const 12) (i64.const ${lp(4096, 16)})))
    (drop (call $set (global.get $copy) (local.get $data) (i32.const 12)
      (i64.or (i64.shl (i64.extend_i32_u (local.get $n)) (i64.const 32)) (i64.const 4096)))))
)`;

function collect(ctx: ReturnType<typeof eventsContext>['ctx']): Batch[] {
  const seen: Batch[] = [];
  ctx.dataSources.get('events')!.subscribe((b) => { seen.push(b); }, 10000);
  return seen;
}

test('a guest on upstream\'s raw ABI reads fields, adds fields and sets them on every record', async () => {
  const { ctx, batch } = eventsContext();
  const op = await WasmOperator.create(ctx, wat(ADDER));
  const ds = ctx.dataSources.get('events')!;
  const sum = ds.getField('pid_plus_uid')!;
  assert.ok(sum.tags.includes('wasm-tag'));
  const seen = collect(ctx);
  op.preStart();
  op.start();
  ds.emit(batch([{ pid: 10, uid: 5, comm: 'cat' }, { pid: 4000000000, uid: 1000000000, comm: 'a-long-comm-name' }]));
  const b = seen[0]!;
  assert.equal(sum.get(b, 0), 15);
  assert.equal(sum.get(b, 1), 5000000000);
  assert.equal(ds.getField('note')!.get(b, 1), 'hello from wasm');
  assert.equal(ds.getField('comm_copy')!.get(b, 0), 'cat');
  assert.equal(ds.getField('comm_copy')!.get(b, 1), 'a-long-comm-name');
  op.stop();
  op.postStop();
});

test('a guest makes its own data source and emits packets into it; params reach it', async () => {
  const T = strings(['greeting', 'out', 'n', 'hello'], 2048);
  const mod = `(module ${IMPORTS}
    (memory (export "memory") 1)
    ${T.data}
    (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
    (global $ds (mut i32) (i32.const 0))
    (global $f (mut i32) (i32.const 0))
    (func (export "gadgetInit") (result i32)
      (global.set $ds (call $newDs (i64.const ${T.at['out']}) (i32.const 1)))
      (global.set $f (call $addF (global.get $ds) (i64.const ${T.at['n']}) (i32.const 12)))
      (i32.eqz (global.get $f)))
    (func (export "gadgetStart") (result i32)
      (local $p i32) (local $len i32)
      ;; the param's value is written at 8192 (room for 64 bytes); its length is found by scanning for NUL
      (if (call $param (i64.const ${T.at['greeting']}) (i64.const ${lp(8192, 64)})) (then (return (i32.const 1))))
      (block $done (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (i32.add (i32.const 8192) (local.get $len)))))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $scan)))
      (local.set $p (call $newPkt (global.get $ds)))
      (drop (call $set (global.get $f) (local.get $p) (i32.const 12)
        (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32)) (i64.const 8192))))
      (call $emit (global.get $ds) (local.get $p)))
  )`;
  const { ctx } = eventsContext('params:\n  wasm:\n    greeting:\n      key: greeting\n      defaultValue: hi\n      description: what to say\n');
  const op = await WasmOperator.create(ctx, wat(mod));
  assert.deepEqual(op.params().map((p) => p.prefix + p.key), ['operator.oci.wasm.greeting']);
  ctx.addParams(op.params());
  ctx.params.set('operator.oci.wasm.greeting', 'hello there');
  const out = ctx.dataSources.get('out')!;
  const got: string[] = [];
  out.subscribe((b) => { for (const i of b.indices()) got.push(String(out.getField('n')!.get(b, i))); }, 0);
  op.start();
  assert.deepEqual(got, ['hello there']);
  op.stop();
});

/** A guest whose gadgetInit subscribes to "events" and whose callback body is `body`. */
function subscriber(body: string, extra = ''): string {
  return `(module ${IMPORTS}
    (memory (export "memory") 1)
    ${S.data}
    ${extra}
    (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
    (func (export "gadgetInit") (result i32)
      (call $sub (call $getDs (i64.const ${S.at['events']})) (i32.const 1) (i32.const 0) (i64.const 1)))
    (func (export "dataSourceCallback") (param i64 i32 i32) ${body}))`;
}

/** Emit one record; return the error the run ends with. */
async function failsWhileEmitting(mod: string, opts = {}, started = false): Promise<Error> {
  const { ctx, batch } = eventsContext();
  const op = await WasmOperator.create(ctx, wat(mod), opts);
  // preStart switches data callbacks to the process watchdog (as a run does).
  if (started) op.preStart();
  let failure: Error | undefined;
  ctx.fail = (e) => { failure ??= e; };
  const seen = collect(ctx);
  const t0 = Date.now();
  ctx.dataSources.get('events')!.emit(batch([{ pid: 1, uid: 2, comm: 'x' }]));
  assert.ok(Date.now() - t0 < 5000, 'the emit returned');
  assert.ok(failure instanceof WasmError, `the run fails with a WasmError, not ${failure}`);
  assert.equal(seen[0]?.liveCount ?? 0, 0, 'the failed batch goes no further');
  op.stop();
  op.postStop();
  return failure;
}

const oneLine = (e: Error) => { assert.ok(!e.message.includes('\n'), e.message); assert.match(e.message, /^wasm module of test\/wasm \(sha256:[0-9a-f]{12}\): /); };

test('safety: a trap in a callback ends the run with one line', async () => {
  const e = await failsWhileEmitting(subscriber('unreachable'));
  oneLine(e);
  assert.match(e.message, /trapped in dataSourceCallback: unreachable/);
});

test('safety: a callback that never returns is stopped after --wasm-timeout (recoverable mode, node:vm)', async () => {
  const t0 = Date.now();
  const e = await failsWhileEmitting(subscriber('(loop $l (br $l))'), { timeoutMs: 300, recoverableCallbacks: true });
  oneLine(e);
  assert.match(e.message, /dataSourceCallback did not return within 300 ms and was stopped \(--wasm-timeout\)/);
  assert.ok(Date.now() - t0 < 4000);
});

test('safety: a callback that never returns is stopped after --wasm-timeout (process watchdog, V8 termination)', async () => {
  const t0 = Date.now();
  const e = await failsWhileEmitting(subscriber('(loop $l (br $l))'), { timeoutMs: 300 }, true);
  oneLine(e);
  assert.match(e.message, /dataSourceCallback did not return within 300 ms and was stopped \(--wasm-timeout\)/);
  assert.ok(Date.now() - t0 < 4000);
  // The termination was cancelled: JavaScript after it runs normally (timers, promises, a new guest).
  await new Promise((r) => setTimeout(r, 20));
  const { ctx, batch } = eventsContext();
  const op = await WasmOperator.create(ctx, wat(ADDER), { timeoutMs: 300 });
  op.preStart();
  const seen = collect(ctx);
  ctx.dataSources.get('events')!.emit(batch([{ pid: 1, uid: 2, comm: 'x' }]));
  assert.equal(seen[0]?.liveCount, 1);
  op.stop();
  op.postStop();
});

test('safety: the watchdog never stops callbacks that return in time, nor the JavaScript between them', async () => {
  // 2000 quick batches with a 250 ms deadline, with busy JavaScript outside the guest (past 250 ms each time):
  // the watchdog sees the slot disarmed there and leaves it alone. (The deadline is wall-clock time: with 20 ms,
  // a loaded machine descheduling the test inside a quick callback tripped it.)
  const { ctx, batch } = eventsContext();
  const op = await WasmOperator.create(ctx, wat(ADDER), { timeoutMs: 250 });
  let failure: Error | undefined;
  ctx.fail = (e) => { failure ??= e; };
  op.preStart();
  let live = 0;
  const ds = ctx.dataSources.get('events')!;
  ds.subscribe((b) => { live += b.liveCount; }, 10000);
  for (let i = 0; i < 2000; i++) {
    ds.emit(batch([{ pid: i, uid: 2, comm: 'x' }]));
    if (i % 500 === 0) { const t = Date.now(); while (Date.now() - t < 300) { /* busy outside the guest */ } }
  }
  assert.equal(failure, undefined);
  assert.equal(live, 2000);
  op.stop();
  op.postStop();
});

test('safety: an out-of-bounds pointer ends the run', async () => {
  const e = await failsWhileEmitting(subscriber(`(drop (call $getDs (i64.const ${lp(65530, 100)})))`));
  oneLine(e);
  assert.match(e.message, /in dataSourceCallback: getDataSource: pointer 0xfffa \+ 100 bytes is outside its 65536-byte memory/);
});

test('safety: an error out-pointer outside memory ends the run', async () => {
  const e = await failsWhileEmitting(subscriber('(drop (call $get (i32.const 999) (local.get 2) (i32.const 8) (i32.const 70000)))'));
  assert.match(e.message, /fieldGetScalar: error pointer: pointer 0x11170 \+ 4 bytes is outside/);
});

test('safety: growing memory past --wasm-memory-limit', async () => {
  // The guest asks for 32 more pages (2 MiB) with a 1 MiB cap; the grow fails and the guest aborts, as allocators do.
  const e = await failsWhileEmitting(subscriber('(if (i32.lt_s (memory.grow (i32.const 32)) (i32.const 0)) (then unreachable))'), { memoryLimitBytes: 1 << 20 });
  oneLine(e);
  assert.match(e.message, /trapped in dataSourceCallback: unreachable/);
  const { ctx } = eventsContext();
  await assert.rejects(WasmOperator.create(ctx, wat(`(module (memory (export "memory") 40) (func (export "gadgetAPIVersion") (result i64) (i64.const 1)))`), { memoryLimitBytes: 1 << 20 }),
    /needs 2.5 MiB of memory at start, more than the limit of 1 MiB \(--wasm-memory-limit\)/);
});

test('safety: gadgetInit failing, wrong API version, unknown import, bad binary, missing exports', async () => {
  const cases: [string | Buffer, RegExp][] = [
    [`(module (memory (export "memory") 1) (func (export "gadgetAPIVersion") (result i64) (i64.const 1)) (func (export "gadgetInit") (result i32) (i32.const 3)))`, /gadgetInit returned 3 \(failure\)$/],
    [`(module (memory (export "memory") 1) (func (export "gadgetAPIVersion") (result i64) (i64.const 2)))`, /built for gadget API version 2, this ig supports 1$/],
    [`(module (import "ig" "launchMissiles" (func (param i32))) (memory (export "memory") 1) (func (export "gadgetAPIVersion") (result i64) (i64.const 1)))`, /imports function ig.launchMissiles, which ig does not provide/],
    [`(module (import "env" "abort" (func (param i32))) (memory (export "memory") 1) (func (export "gadgetAPIVersion") (result i64) (i64.const 1)))`, /imports function env.abort, which ig does not provide/],
    [Buffer.from('this is not wasm at all'), /not a WebAssembly module \(bad magic\)$/],
    [Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), Buffer.from([1, 50, 0])]), /invalid WebAssembly: section runs past the end$/],
    [`(module (memory (export "memory") 1))`, /does not export gadgetAPIVersion$/],
    [`(module (func (export "gadgetAPIVersion") (result i64) (i64.const 1)))`, /does not export its memory as "memory"$/],
    [`(module (memory (export "memory") 1) (func (export "gadgetAPIVersion") (result i64) (i64.const 1)) (func (export "gadgetInit") (result i32) (loop $l (br $l)) (i32.const 0)))`, /gadgetInit did not return within 200 ms/],
  ];
  for (const [src, re] of cases) {
    const { ctx } = eventsContext();
    await assert.rejects(WasmOperator.create(ctx, typeof src === 'string' ? wat(src) : src, { timeoutMs: 200 }), (e: Error) => {
      assert.ok(e instanceof WasmError, String(e));
      oneLine(e);
      assert.match(e.message, re);
      return true;
    });
  }
});

test('array data sources: the guest reads elements and drops one', async () => {
  const { ctx } = eventsContext();
  const ds = ctx.addDataSource('arr', 'array');
  ds.staticSize = 4;
  const { Kind, Batch } = await import('../../datasource/index.js');
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  const A = strings(['arr', 'pid'], 3000);
  const mod = `(module ${IMPORTS}
    (import "ig" "dataArrayLen" (func $len (param i32) (result i32)))
    (import "ig" "dataArrayGet" (func $at (param i32 i32) (result i32)))
    (import "ig" "dataArrayRelease" (func $rel (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    ${A.data}
    (global $pid (mut i32) (i32.const 0))
    (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
    (func (export "gadgetInit") (result i32)
      (local $ds i32)
      (local.set $ds (call $getDs (i64.const ${A.at['arr']})))
      (global.set $pid (call $getF (local.get $ds) (i64.const ${A.at['pid']})))
      (call $sub (local.get $ds) (i32.const 2) (i32.const 0) (i64.const 1)))
    (func (export "dataSourceCallback") (param i64 i32 i32)
      (local $i i32)
      ;; drop every element whose pid is odd, walking backwards so indices stay valid
      (local.set $i (call $len (local.get 2)))
      (block $done (loop $l
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (if (i64.ne (i64.and (call $get (global.get $pid) (call $at (local.get 2) (local.get $i)) (i32.const 8) (i32.const 0)) (i64.const 1)) (i64.const 0))
          (then (drop (call $rel (local.get 2) (call $at (local.get 2) (local.get $i))))))
        (br $l)))))`;
  const op = await WasmOperator.create(ctx, wat(mod));
  const b = Batch.empty(ds, 5);
  for (let i = 0; i < 5; i++) b.buf.writeUInt32LE(i + 1, i * 4);
  let kept: number[] = [];
  ds.subscribe((x) => { kept = [...x.indices()].map((i) => x.buf.readUInt32LE(x.offs[i]!)); }, 100);
  ds.emit(b);
  assert.deepEqual(kept, [2, 4]);
  op.stop();
});

test('fieldSet narrows the guest\'s i64 to the kind it names (wrapping, as a cast), small and large values alike', async () => {
  // One added field per kind; each record sets them all from one i64 of the batch's own (uid | pid << 32 is the
  // value: the test picks pid and uid so that the value covers small, negative and > 2^53 cases).
  const K = strings(['events', 'pid', 'uid', 'u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64', 'b'], 1024);
  const kinds: [string, number][] = [['u8', 6], ['i8', 2], ['u16', 7], ['i16', 3], ['u32', 8], ['i32', 4], ['u64', 9], ['i64', 5], ['b', 1]];
  const mod = `(module ${IMPORTS}
    (memory (export "memory") 1)
    ${K.data}
    (global $ds (mut i32) (i32.const 0))
    (global $pid (mut i32) (i32.const 0))
    (global $uid (mut i32) (i32.const 0))
    ${kinds.map(([n]) => `(global $${n} (mut i32) (i32.const 0))`).join('\n')}
    (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
    (func (export "gadgetInit") (result i32)
      (global.set $ds (call $getDs (i64.const ${K.at['events']})))
      (global.set $pid (call $getF (global.get $ds) (i64.const ${K.at['pid']})))
      (global.set $uid (call $getF (global.get $ds) (i64.const ${K.at['uid']})))
      ${kinds.map(([n, k]) => `(global.set $${n} (call $addF (global.get $ds) (i64.const ${K.at[n]}) (i32.const ${k})))`).join('\n')}
      (call $sub (global.get $ds) (i32.const 1) (i32.const 0) (i64.const 1)))
    (func (export "dataSourceCallback") (param $cb i64) (param $ds i32) (param $data i32)
      (local $v i64)
      (local.set $v (i64.or (i64.shl (call $get (global.get $pid) (local.get $data) (i32.const 8) (i32.const 0)) (i64.const 32))
                            (call $get (global.get $uid) (local.get $data) (i32.const 8) (i32.const 0))))
      ${kinds.map(([n, k]) => `(drop (call $set (global.get $${n}) (local.get $data) (i32.const ${k}) (local.get $v)))`).join('\n')})
  )`;
  const { ctx, batch } = eventsContext();
  const op = await WasmOperator.create(ctx, wat(mod));
  const seen = collect(ctx);
  op.preStart();
  const ds = ctx.dataSources.get('events')!;
  // values: 2^32 + 0xff80 (small), -1 (all ones: > 2^53 as unsigned), 2^60 + 0x80 (large), 2^63 - 1
  ds.emit(batch([{ pid: 1, uid: 0xff80, comm: 'a' }, { pid: 0xffffffff, uid: 0xffffffff, comm: 'b' }, { pid: 0x10000000, uid: 0x80, comm: 'c' }, { pid: 0x7fffffff, uid: 0xffffffff, comm: 'd' }]));
  const b = seen[0]!;
  const row = (i: number) => Object.fromEntries(kinds.map(([n]) => [n, ds.getField(n)!.get(b, i)]));
  assert.deepEqual(row(0), { u8: 0x80, i8: -128, u16: 0xff80, i16: -128, u32: 0xff80, i32: 0xff80, u64: 2 ** 32 + 0xff80, i64: 2 ** 32 + 0xff80, b: true });
  assert.deepEqual(row(1), { u8: 255, i8: -1, u16: 65535, i16: -1, u32: 4294967295, i32: -1, u64: 18446744073709551615n, i64: -1, b: true });
  assert.deepEqual(row(2), { u8: 0x80, i8: -128, u16: 0x80, i16: 0x80, u32: 0x80, i32: 0x80, u64: 2n ** 60n + 0x80n, i64: 2n ** 60n + 0x80n, b: true });
  assert.deepEqual(row(3), { u8: 255, i8: -1, u16: 65535, i16: -1, u32: 4294967295, i32: -1, u64: 2n ** 63n - 1n, i64: 2n ** 63n - 1n, b: true });
  op.stop();
  op.postStop();
});
