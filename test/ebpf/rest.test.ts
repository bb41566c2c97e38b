// Variable-length record tails: with the data-source annotations ebpf.rest.name / ebpf.rest.len, the bytes a
// record carries after its struct become a bytes field, cut to the length the named field gives.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';

const gadgets = new TestGadgets();
const env = gadgets.env;

before(() => {
  gadgets.build('rest', 'rest.bpf.c', `name: rest
description: record tail test gadget
datasources:
  rest:
    annotations:
      ebpf.rest.name: data
      ebpf.rest.len: data_len
`);
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
