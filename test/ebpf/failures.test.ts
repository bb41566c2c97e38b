// The eBPF operator's failure paths, with real gadgets built into a throwaway store: each ends in one line,
// a non-zero exit, and nothing left loaded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runIgSync } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';
import { ProgTap, waitUnloaded } from '../harness/owned-progs.js';

const gadgets = new TestGadgets();
const env = gadgets.env;
// The runs' programs, by id (programs of the same names may be loaded by other runs of this file on the machine).
const tap = new ProgTap();
after(() => tap.cleanup());
const runEnv = { ...env, ...tap.env };

function buildCase(name: string, define: string): void {
  gadgets.build(name, 'errors.bpf.c', `name: ${name}\ndescription: test gadget\n`, `#define ${define} 1\n`);
}

before(() => {
  buildCase('verifier_reject', 'CASE_VERIFIER');
  buildCase('missing_tracepoint', 'CASE_NOTRACEPOINT');
  buildCase('needs_kprobe', 'CASE_KPROBE');
});

test('a verifier rejection is one line; --verbose adds the verifier log', async () => {
  const r = runIgSync(['run', 'verifier_reject', '-t', '1'], { env: runEnv });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: gadget verifier_reject: the kernel rejected program ig_bad: .*--verbose/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const v = runIgSync(['run', 'verifier_reject', '-t', '1', '--verbose'], { env: runEnv });
  assert.equal(v.code, 1);
  assert.match(v.stderr, /invalid access to map value|R\d+ (invalid mem access|min value is outside)|processed \d+ insns/);
  assert.deepEqual(await waitUnloaded(tap.ids()), []);
});

test('a missing tracepoint names the program and the hook', async () => {
  const r = runIgSync(['run', 'missing_tracepoint', '-t', '1'], { env: runEnv });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: gadget missing_tracepoint: program ig_missing: tracepoint syscalls\/sys_enter_ig_does_not_exist does not exist on this kernel\n$/);
  assert.deepEqual(await waitUnloaded(tap.ids()), []);
});

test('a kprobe gadget on a kernel without kprobes fails in one line', async () => {
  const r = runIgSync(['run', 'needs_kprobe', '-t', '1'], { env: runEnv });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: gadget needs_kprobe: program ig_kprobe: kprobe do_sys_openat2 \(kprobes\) /);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.deepEqual(await waitUnloaded(tap.ids()), []);
});

test('an image that is not in the store and may not be pulled', () => {
  const r = runIgSync(['run', 'nothing_here', '--pull', 'never'], { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /nothing_here/);
});

test('the failed runs loaded programs (the checks above were not empty) and none is left', async () => {
  assert.ok(tap.ids().length > 0, 'the missing tracepoint run loaded its program before the attach failed');
  assert.deepEqual(await waitUnloaded(tap.ids()), []);
});
