// A gadget built with ig's include/gadget/buffer.h has a paced ring (marker gadget_ringbuf_paced_<map>): ig reads it
// with a paced reader, which takes the records no wake-up announces on its own clock while the run goes on.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';

const gadgets = new TestGadgets();
const env = gadgets.env;

before(() => {
  gadgets.build('paced', 'paced.bpf.c', `name: paced
description: paced ring test gadget
`);
});

test('records of a paced ring come out while the run goes on, read on the reader\'s clock', async () => {
  const ig = new IgProcess(['run', 'paced', '-o', 'json', '-v'], env);
  const kids: number[] = [];
  // Ten getpgid() calls 30 ms apart, then the child waits: only the reader's clock reads what no wake-up announced.
  const burst = () => kids.push(spawn('python3', ['-c', 'import os, time\nfor _ in range(10):\n  os.getpgid(0); time.sleep(0.03)\ntime.sleep(30)'], { stdio: 'ignore' }).pid!);
  const mine = () => ig.events<{ pid: number }>().filter((e) => e.pid === kids[kids.length - 1]).length;
  try {
    await ig.waitFor<{ pid: number }>((e) => kids.includes(e.pid), burst, { timeoutMs: 60000, everyMs: 1000 });
    const last = kids[kids.length - 1];
    // 10 x 30 ms, then at most the reader's 80 ms (+ slack): 3 s is for a loaded machine.
    const deadline = Date.now() + 3000;
    while (mine() < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(mine(), 10, `records of pid ${last} while running`);
  } finally {
    for (const k of kids) { try { process.kill(k, 'SIGKILL'); } catch { /* gone */ } }
    await ig.stop();
  }
  const m = /paced: \d+ records rendered on the reader thread.*; \d+ polls, (\d+) on the reader's clock/.exec(ig.stderr);
  assert.ok(m, `a paced reader rendered the records: ${ig.stderr.split('\n').filter((l) => /reader/.test(l)).join(' | ')}`);
  assert.ok(Number(m[1]) >= 1, 'some records were read on the reader\'s clock');
});
