// uprobes whose library or symbol this host lacks are skipped with a warning naming them, as upstream does
// (gadgets probe several TLS libraries; a host has some); the others attach and report.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { IgProcess, runIgSync, repoRoot } from '../harness/ig.js';

const store = mkdtempSync(join(tmpdir(), 'ig-store-'));
const env = { IG_OCI_STORE: store };

before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-uprobes-'));
  copyFileSync(join(repoRoot(), 'test', 'ebpf', 'testdata', 'uprobes.bpf.c'), join(dir, 'program.bpf.c'));
  writeFileSync(join(dir, 'gadget.yaml'), 'name: uprobes\ndescription: uprobe attachment test gadget\n');
  const r = runIgSync(['image', 'build', dir, '-t', 'uprobes'], { env });
  assert.equal(r.code, 0, r.stderr);
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
