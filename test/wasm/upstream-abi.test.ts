// A module written only against upstream's ABI (raw "ig" imports, no SDK) adds and sets fields on a real
// gadget's events; bad modules end a real run with one line, exit code 1 and no programs left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { bpfProgIds, leakedPrograms } from '../harness/activity.js';
import { IMPORTS, lp, strings, wat } from '../../src/operators/wasm/testutil.js';
import { buildWithWasm, replaceWasmLayer } from './images.js';

const S = strings(['open', 'proc.pid', 'fname', 'pid_x2', 'fname_len', 'fname_upper']);

/** pid_x2 = proc.pid * 2 (uint64), fname_len = bytes of fname (uint32), fname_upper = fname in capitals (string). */
const MODULE = `(module ${IMPORTS}
  (memory (export "memory") 2)
  ${S.data}
  (global $pid (mut i32) (i32.const 0))
  (global $fname (mut i32) (i32.const 0))
  (global $x2 (mut i32) (i32.const 0))
  (global $len (mut i32) (i32.const 0))
  (global $upper (mut i32) (i32.const 0))
  (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
  (func (export "gadgetInit") (result i32)
    (local $ds i32)
    (local.set $ds (call $getDs (i64.const ${S.at['open']})))
    (if (i32.eqz (local.get $ds)) (then (return (i32.const 1))))
    (global.set $pid (call $getF (local.get $ds) (i64.const ${S.at['proc.pid']})))
    (global.set $fname (call $getF (local.get $ds) (i64.const ${S.at['fname']})))
    (global.set $x2 (call $addF (local.get $ds) (i64.const ${S.at['pid_x2']}) (i32.const 9)))
    (global.set $len (call $addF (local.get $ds) (i64.const ${S.at['fname_len']}) (i32.const 8)))
    (global.set $upper (call $addF (local.get $ds) (i64.const ${S.at['fname_upper']}) (i32.const 12)))
    (call $sub (local.get $ds) (i32.const 1) (i32.const 50) (i64.const 0)))
  (func (export "dataSourceCallback") (param i64 i32 i32)
    (local $n i32) (local $i i32) (local $c i32)
    (drop (call $set (global.get $x2) (local.get 2) (i32.const 9)
      (i64.mul (call $get (global.get $pid) (local.get 2) (i32.const 8) (i32.const 0)) (i64.const 2))))
    (local.set $n (call $getBuf (global.get $fname) (local.get 2) (i32.const 12) (i64.const ${lp(65536, 4096)})))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then unreachable))
    (drop (call $set (global.get $len) (local.get 2) (i32.const 8) (i64.extend_i32_u (local.get $n))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $c (i32.load8_u (i32.add (i32.const 65536) (local.get $i))))
      (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
        (then (i32.store8 (i32.add (i32.const 65536) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (drop (call $set (global.get $upper) (local.get 2) (i32.const 12)
      (i64.or (i64.shl (i64.extend_i32_u (local.get $n)) (i64.const 32)) (i64.const 65536)))))
)`;

interface Ev { proc: { pid: number; comm: string }; fname: string; pid_x2: number; fname_len: number; fname_upper: string }

test('a raw-ABI module adds and sets fields on trace_open events', async () => {
  const img = buildWithWasm('trace_open', { 'module.wasm': wat(MODULE) }, 'module.wasm');
  const dir = mkdtempSync(join(tmpdir(), 'ig-wasm-abi-'));
  const sh = join(dir, 'igwasm_sh');
  copyFileSync('/bin/bash', sh);
  const ig = new IgProcess(['run', img.image, '--host', '-o', 'json', '--comm', 'igwasm_sh'], img.env);
  try {
    const want = join(dir, 'probe-file');
    const e = await ig.waitFor<Ev>((x) => x.fname === want, () => { spawnSync(sh, ['-c', `: < ${want}`], { stdio: 'ignore' }); }, { timeoutMs: 30000 });
    assert.equal(e.pid_x2, e.proc.pid * 2);
    assert.equal(e.fname_len, Buffer.byteLength(want));
    assert.equal(e.fname_upper, want.toUpperCase());
  } finally {
    const r = await ig.stop();
    rmSync(dir, { recursive: true, force: true });
    img.cleanup();
    assert.equal(r.code, 0, r.stderr);
  }
});

test('a module that hangs in a callback ends the run in order: one line naming the module, exit 1, programs detached', async () => {
  const hang = MODULE.replace('(local $n i32) (local $i i32) (local $c i32)', '(local $n i32) (local $i i32) (local $c i32) (loop $spin (br $spin))');
  const img = buildWithWasm('trace_open', { 'module.wasm': wat(hang) }, 'module.wasm', 'trace_open_wasm_hang');
  const before = bpfProgIds(['ig_open_e', 'ig_open_x', 'ig_openat_e', 'ig_openat_x', 'ig_openat2_e', 'ig_openat2_x']);
  const t0 = Date.now();
  const poke = setInterval(() => { spawnSync('cat', ['/etc/hostname'], { stdio: 'ignore' }); }, 50);
  const r = runIgSync(['run', img.image, '--host', '-o', 'json', '--wasm-timeout', '2s', '--timeout', '30'], { env: img.env, timeoutMs: 60000 });
  clearInterval(poke);
  img.cleanup();
  // The watchdog has V8 stop the guest; the run fails and stops in order: ig exits by itself with 1, not by a
  // signal (the last-resort SIGKILL is for guests V8 cannot stop).
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(Date.now() - t0 < 25000, 'ended long before --timeout');
  // Other lines (e.g. a WARN about records lost while the guest was stuck) may come along; the error is one line.
  const errors = r.stderr.split('\n').filter((l) => /did not return/.test(l));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /^(Error: )?wasm module of .+ \(sha256:[0-9a-f]{12}\): dataSourceCallback did not return within 2000 ms and was stopped \(--wasm-timeout\)$/);
  assert.doesNotMatch(r.stderr, /could not be stopped|ig was killed|\n\s+at /, 'no last-resort kill, no stack trace');
  assert.deepEqual(await leakedPrograms(['ig_open_e', 'ig_open_x', 'ig_openat_e', 'ig_openat_x', 'ig_openat2_e', 'ig_openat2_x'], before), []);
});

test('a module that hangs in gadgetStart ends the run in order: one line, exit 1', async () => {
  const hang = MODULE.replace('(func (export "gadgetAPIVersion")', '(func (export "gadgetStart") (result i32) (loop $spin (br $spin)) (i32.const 0))\n  (func (export "gadgetAPIVersion")');
  const img = buildWithWasm('trace_open', { 'module.wasm': wat(hang) }, 'module.wasm', 'trace_open_wasm_hang_start');
  const before = bpfProgIds(['ig_open_e', 'ig_open_x', 'ig_openat_e', 'ig_openat_x', 'ig_openat2_e', 'ig_openat2_x']);
  const r = runIgSync(['run', img.image, '--host', '-o', 'json', '--wasm-timeout', '2s', '--timeout', '30'], { env: img.env, timeoutMs: 60000 });
  img.cleanup();
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 1, r.stderr);
  // A WARN about records lost (the ring fills while gadgetStart spins) may come along; the error is one line.
  const errors = r.stderr.split('\n').filter((l) => /did not return/.test(l));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /^(Error: )?wasm module of .+ \(sha256:[0-9a-f]{12}\): gadgetStart did not return within 2000 ms and was stopped \(--wasm-timeout\)$/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(await leakedPrograms(['ig_open_e', 'ig_open_x', 'ig_openat_e', 'ig_openat_x', 'ig_openat2_e', 'ig_openat2_x'], before), []);
});

test('an image with an invalid WASM layer fails in one line', async () => {
  const img = buildWithWasm('trace_open', { 'module.wasm': wat(MODULE) }, 'module.wasm', 'trace_open_wasm_bad');
  try {
    await replaceWasmLayer(img, Buffer.from('\0asm\x01\0\0\0\x05\x09garbage'));
    const r = runIgSync(['run', img.image, '--host', '--timeout', '5'], { env: img.env });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /wasm module of .*: invalid WebAssembly/);
  } finally {
    img.cleanup();
  }
});
