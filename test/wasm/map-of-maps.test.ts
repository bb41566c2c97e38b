// Map-of-maps lookups through the host API: looking up a slot of an array of maps hands the guest a handle to
// the inner map (opened by its kernel id), which it can read and write like any map; releaseHandle closes it,
// mapRelease refuses it (it was not made by newMap), as upstream's operator does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runIgSync } from '../harness/ig.js';
import { lp, strings, wat } from '../../src/operators/wasm/testutil.js';
import { buildWithWasm } from './images.js';

const MSGS = ['mom_outer', 'mom: ok', 'mom: no outer map', 'mom: outer lookup failed', 'mom: inner update failed',
  'mom: second outer lookup failed', 'mom: same handle twice', 'mom: inner lookup failed', 'mom: wrong inner value',
  'mom: mapRelease accepted an inner map', 'mom: releaseHandle failed', 'mom: released handle still usable',
  'mom: lookup of an empty slot gave a handle'];
const S = strings(MSGS);
// Scratch memory: key at 8192, value at 8200 (8 bytes), inner handle at 8208 (4 bytes).
const KEY = 8192, VAL = 8200, H = 8208;

const fail = (m: string) => `(then (call $log (i32.const 1) (i64.const ${S.at[m]})) (return (i32.const 1)))`;

const MODULE = `(module
  (import "ig" "gadgetLog" (func $log (param i32 i64)))
  (import "ig" "getMap" (func $getMap (param i64) (result i32)))
  (import "ig" "mapLookup" (func $lookup (param i32 i64 i64) (result i32)))
  (import "ig" "mapUpdate" (func $update (param i32 i64 i64 i64) (result i32)))
  (import "ig" "mapRelease" (func $mapRelease (param i32) (result i32)))
  (import "ig" "releaseHandle" (func $release (param i32) (result i32)))
  (memory (export "memory") 1)
  ${S.data}
  (func (export "gadgetAPIVersion") (result i64) (i64.const 1))
  (func (export "gadgetInit") (result i32) (i32.const 0))
  (func (export "gadgetStart") (result i32)
    (local $outer i32) (local $h1 i32) (local $h2 i32)
    (local.set $outer (call $getMap (i64.const ${S.at['mom_outer']})))
    (if (i32.eqz (local.get $outer)) ${fail('mom: no outer map')})
    ;; slot 0 -> handle of mom_inner
    (i32.store (i32.const ${KEY}) (i32.const 0))
    (if (call $lookup (local.get $outer) (i64.const ${lp(KEY, 4)}) (i64.const ${lp(H, 4)})) ${fail('mom: outer lookup failed')})
    (local.set $h1 (i32.load (i32.const ${H})))
    ;; inner[0] = 0xfeed0042 through the first handle, then drop that handle
    (i64.store (i32.const ${VAL}) (i64.const 0xfeed0042))
    (if (call $update (local.get $h1) (i64.const ${lp(KEY, 4)}) (i64.const ${lp(VAL, 8)}) (i64.const 0)) ${fail('mom: inner update failed')})
    (if (call $release (local.get $h1)) ${fail('mom: releaseHandle failed')})
    ;; a fresh lookup gives a new handle to the same kernel map: the value is there
    (if (call $lookup (local.get $outer) (i64.const ${lp(KEY, 4)}) (i64.const ${lp(H, 4)})) ${fail('mom: second outer lookup failed')})
    (local.set $h2 (i32.load (i32.const ${H})))
    (if (i32.eq (local.get $h1) (local.get $h2)) ${fail('mom: same handle twice')})
    (i64.store (i32.const ${VAL}) (i64.const 0))
    (if (call $lookup (local.get $h2) (i64.const ${lp(KEY, 4)}) (i64.const ${lp(VAL, 8)})) ${fail('mom: inner lookup failed')})
    (if (i64.ne (i64.load (i32.const ${VAL})) (i64.const 0xfeed0042)) ${fail('mom: wrong inner value')})
    (if (i32.eqz (call $mapRelease (local.get $h2))) ${fail('mom: mapRelease accepted an inner map')})
    (if (call $release (local.get $h2)) ${fail('mom: releaseHandle failed')})
    (if (i32.eqz (call $lookup (local.get $h2) (i64.const ${lp(KEY, 4)}) (i64.const ${lp(VAL, 8)}))) ${fail('mom: released handle still usable')})
    ;; slot 1 is empty: an error, no handle
    (i32.store (i32.const ${KEY}) (i32.const 1))
    (if (i32.eqz (call $lookup (local.get $outer) (i64.const ${lp(KEY, 4)}) (i64.const ${lp(H, 4)}))) ${fail('mom: lookup of an empty slot gave a handle')})
    (call $log (i32.const 1) (i64.const ${S.at['mom: ok']}))
    (i32.const 0))
)`;

test('a map-of-maps lookup hands out the inner map: written through one handle, read back through another', () => {
  const img = buildWithWasm('test/wasm/gadgets/map_of_maps', { 'module.wasm': wat(MODULE) }, 'module.wasm', 'map_of_maps_wasm_test');
  try {
    const r = runIgSync(['run', img.image, '--host', '--timeout', '1'], { env: img.env, timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /mom: ok/);
    assert.doesNotMatch(r.stderr, /mom: (?!ok)/);
  } finally {
    img.cleanup();
  }
});
