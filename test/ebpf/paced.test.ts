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
    // The burst that showed the run attached may have begun before it (only its later records traced): a new one.
    burst();
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

test('a steady stream on a paced ring with the default pace wakes the reader about once per 75 ms, not per record', async () => {
  gadgets.build('pacedflt', 'paced.bpf.c', 'name: pacedflt\ndescription: default-pace ring test gadget\n', '#define IG_TEST_DEFAULT_PACE\n');
  const ig = new IgProcess(['run', 'pacedflt', '-o', 'json', '-v'], env);
  let child: number | undefined;
  let elapsedMs = 0;
  try {
    // A first record to know the run is attached, then 600 records 5 ms apart (~3 s; ~200 records/s, an exec storm's
    // rate); the child prints how long the stream took on this machine.
    await ig.waitFor<{ pid: number }>(() => true, () => spawn('python3', ['-c', 'import os\nos.getpgid(0)'], { stdio: 'ignore' }), { timeoutMs: 60000, everyMs: 1000 });
    const py = spawn('python3', ['-c', 'import os, time\nt = time.monotonic()\nfor _ in range(600):\n  os.getpgid(0); time.sleep(0.005)\nprint(int((time.monotonic() - t) * 1000), flush=True)\ntime.sleep(30)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child = py.pid;
    elapsedMs = await new Promise<number>((resolve) => py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString()))));
    const deadline = Date.now() + 3000;
    while (ig.events<{ pid: number }>().filter((e) => e.pid === child).length < 600 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ig.events<{ pid: number }>().filter((e) => e.pid === child).length, 600, 'every record of the stream');
  } finally {
    if (child) { try { process.kill(child, 'SIGKILL'); } catch { /* gone */ } }
    await ig.stop();
  }
  const m = /paced: \d+ records rendered on the reader thread.*; (\d+) polls, (\d+) on the reader's clock/.exec(ig.stderr);
  assert.ok(m, `a paced reader rendered the records: ${ig.stderr.split('\n').filter((l) => /reader/.test(l)).join(' | ')}`);
  // 75 ms pace: ~elapsed/75 wake-ups (~40 for 3 s); a 40 ms pace gives ~75, per-record wake-ups ~600. The bound
  // leaves room for a stalled stream, whose next record wakes the reader at once.
  const polls = Number(m[1]);
  assert.ok(polls <= elapsedMs / 55 + 4, `${polls} polls for a ${elapsedMs} ms stream`);
});
