// uprobes whose library or symbol this host lacks are skipped with a warning naming them, as upstream does
// (gadgets probe several TLS libraries; a host has some); the others attach and report.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';

const gadgets = new TestGadgets();
const env = gadgets.env;

before(() => {
  gadgets.build('uprobes', 'uprobes.bpf.c', 'name: uprobes\ndescription: uprobe attachment test gadget\n');
});

test('a missing library or symbol skips that uprobe with a warning; the others report', async () => {
  const ig = new IgProcess(['run', 'uprobes', '-o', 'json'], env);
  const kids = new Set<number>();
  try {
    await ig.waitFor<{ pid: number }>((e) => kids.has(e.pid), () => {
      kids.add(spawn('python3', ['-c', 'import os; os.getpgid(0)'], { stdio: 'ignore' }).pid!);
    }, { timeoutMs: 60000, everyMs: 1000 });
  } finally {
    await ig.stop();
  }
  assert.match(ig.stderr, /WARN: .*program ig_up_nolib: library libig_no_such_library not found on this host; uprobe libig_no_such_library:whatever skipped/);
  assert.match(ig.stderr, /WARN: .*program ig_up_nosym: symbol ig_no_such_symbol not found in \S*libc\S*; uprobe skipped/);
});
