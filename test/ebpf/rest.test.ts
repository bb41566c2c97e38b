// Variable-length record tails: with the data-source annotations ebpf.rest.name / ebpf.rest.len, the bytes a
// record carries after its struct become a bytes field, cut to the length the named field gives.
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
  const dir = mkdtempSync(join(tmpdir(), 'ig-rest-'));
  copyFileSync(join(repoRoot(), 'test', 'ebpf', 'testdata', 'rest.bpf.c'), join(dir, 'program.bpf.c'));
  writeFileSync(join(dir, 'gadget.yaml'), `name: rest
description: record tail test gadget
datasources:
  rest:
    annotations:
      ebpf.rest.name: data
      ebpf.rest.len: data_len
`);
  const r = runIgSync(['image', 'build', dir, '-t', 'rest'], { env });
  assert.equal(r.code, 0, r.stderr);
});

test('the tail after the struct is the bytes field ebpf.rest.name, ebpf.rest.len bytes long', async () => {
  const ig = new IgProcess(['run', 'rest', '-o', 'json'], env);
  const kids = new Set<number>();
  try {
    const ev = await ig.waitFor<{ pid: number; data_len: number; data: string }>((e) => kids.has(e.pid), () => {
      kids.add(spawn('python3', ['-c', 'import os; os.getpgid(0)'], { stdio: 'ignore' }).pid!);
    }, { timeoutMs: 60000, everyMs: 1000 });
    assert.equal(ev.data_len, 5);
    assert.equal(Buffer.from(ev.data, 'hex').toString(), 'hello');
  } finally {
    await ig.stop();
  }
});
