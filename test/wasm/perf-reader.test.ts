// perfReaderRead as upstream's: a record written to the perf buffer is readable within the same guest call
// (0 and the record), an empty buffer gives 2 after a bounded wait, and records written while the reader is
// paused are not returned after resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runIgSync } from '../harness/ig.js';
import { lp, strings, wat } from '../../src/operators/wasm/testutil.js';
import { buildWithWasm } from './images.js';

const MARK_LEN = 3733; // program.bpf.c: writes of this many bytes to fd 2 are recorded
const S = strings(['perf_out', 'perf: ok', 'perf: no map', 'perf: no reader', 'perf: marked write failed',
  'perf: no record in the same call', 'perf: wrong record', 'perf: empty buffer did not give 2',
  'perf: pause failed', 'perf: resume failed', 'perf: record written while paused came back',
  'perf: close failed']);
// Scratch: record at 8192 (16 bytes room), iovec at 8256, nwritten at 8272, marked write payload at 16384.
const REC = 8192, IOV = 8256, NW = 8272, PAYLOAD = 16384;
const fail = (m: string) => `(then (call $log (i32.const 1) (i64.const ${S.at[m]})) (return (i32.const 1)))`;

const MODULE = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fdWrite (param i32 i32 i32 i32) (result i32)))
  (import "ig" "gadgetLog" (func $log (param i32 i64)))
  (import "ig" "getMap" (func $getMap (param i64) (result i32)))
  (import "ig" "newPerfReader" (func $newReader (param i32 i32 i32) (result i32)))
  (import "ig" "perfReaderRead" (func $read (param i32 i64) (result i32)))
  (import "ig" "perfReaderPause" (func $pause (param i32) (result i32)))
  (import "ig" "perfReaderResume" (func $resume (param i32) (result i32)))
  (import "ig" "perfReaderClose" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  ${S.data}
  (func $mark (result i32)
    (memory.fill (i32.const ${PAYLOAD}) (i32.const 46) (i32.const ${MARK_LEN - 1}))
    (i32.store8 (i32.const ${PAYLOAD + MARK_LEN - 1}) (i32.const 10))
    (i32.store (i32.const ${IOV}) (i32.const ${PAYLOAD}))
    (i32.store (i32.const ${IOV + 4}) (i32.const ${MARK_LEN}))
    (call $fdWrite (i32.const 1) (i32.const ${IOV}) (i32.const 1) (i32.const ${NW})))
  (func (export "_initialize"))
  (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
  (func (export "gadgetInit") (result i32) (i32.const 0))
  (func (export "gadgetStart") (result i32)
    (local $m i32) (local $r i32)
    (local.set $m (call $getMap (i64.const ${S.at['perf_out']})))
    (if (i32.eqz (local.get $m)) ${fail('perf: no map')})
    (local.set $r (call $newReader (local.get $m) (i32.const 65536) (i32.const 0)))
    (if (i32.eqz (local.get $r)) ${fail('perf: no reader')})
    (if (call $mark) ${fail('perf: marked write failed')})
    (if (call $read (local.get $r) (i64.const ${lp(REC, 16)})) ${fail('perf: no record in the same call')})
    (if (i32.ne (i32.load (i32.const ${REC + 4})) (i32.const ${MARK_LEN})) ${fail('perf: wrong record')})
    (if (i32.ne (call $read (local.get $r) (i64.const ${lp(REC, 16)})) (i32.const 2)) ${fail('perf: empty buffer did not give 2')})
    (if (call $pause (local.get $r)) ${fail('perf: pause failed')})
    (if (call $mark) ${fail('perf: marked write failed')})
    (if (call $resume (local.get $r)) ${fail('perf: resume failed')})
    (if (i32.ne (call $read (local.get $r) (i64.const ${lp(REC, 16)})) (i32.const 2)) ${fail('perf: record written while paused came back')})
    (if (call $close (local.get $r)) ${fail('perf: close failed')})
    (call $log (i32.const 1) (i64.const ${S.at['perf: ok']}))
    (i32.const 0))
)`;

test('perfReaderRead: a record written during the guest call is read in it; empty gives 2; paused writes are dropped', () => {
  const img = buildWithWasm('test/wasm/gadgets/perf_write', { 'module.wasm': wat(MODULE) }, 'module.wasm', 'perf_write_wasm_test');
  try {
    const r = runIgSync(['run', img.image, '--host', '--timeout', '1'], { env: img.env, timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr.replace(/\.{100,}/g, '<marked write>'));
    assert.match(r.stderr, /perf: ok/);
    assert.doesNotMatch(r.stderr, /perf: (?!ok)/);
  } finally {
    img.cleanup();
  }
});
