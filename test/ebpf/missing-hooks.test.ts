// Programs whose kind of hook this kernel lacks end the run in one line naming the hook: a BPF LSM program
// (no CONFIG_BPF_LSM: the kernel answers only EPERM at load). kprobes and BPF iterators: see attach.ts and
// test/ebpf/snapshots.test.ts; upstream's gadgets that use them are listed in docs/gadget-authoring.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runIgSync } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';
import { ProgTap, waitUnloaded } from '../harness/owned-progs.js';

const gadgets = new TestGadgets();
const env = gadgets.env;
const bpfLsm = ((): boolean => { try { return readFileSync('/sys/kernel/security/lsm', 'utf8').split(',').includes('bpf'); } catch { return false; } })(); // no securityfs: no BPF LSM either

test('a BPF LSM program on a kernel without BPF LSM: one line naming the LSM hook', { skip: bpfLsm && 'this kernel has BPF LSM' }, async () => {
  gadgets.build('lsm-test', 'lsm.bpf.c', 'name: lsm-test\ndatasources:\n  lsm_events:\n    fields:\n      pid: {annotations: {description: pid}}\n');
  const tap = new ProgTap();
  const r = runIgSync(['run', 'lsm-test', '--host'], { env: { ...env, ...tap.env }, timeoutMs: 30000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: gadget lsm-test: program ig_lsm_open: LSM hook file_open \(BPF LSM\) is not supported: this kernel has no BPF LSM/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // Whatever this run loaded before the attach failed (maybe nothing) is unloaded.
  assert.deepEqual(await waitUnloaded(tap.ids()), []);
  tap.cleanup();
});
