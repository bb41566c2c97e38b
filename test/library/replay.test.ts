// runGadget over a recording (`ig run --record`): the same events as `ig replay -o json` gives for the same file and
// filter, nothing loaded into the kernel, and a slow consumer loses nothing (the replay waits for it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runGadget, type GadgetEvent } from '../../src/lib/index.js';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { OwnCat, ownedProgIds, until } from '../harness/daemon.js';
import { tempDir } from '../harness/workload.js';

const tmp = tempDir('ig-h18lib-replay-');
const file = join(tmp.dir, 'open.igrec');
after(() => tmp.cleanup());
// A cat of this file's own: the machine's other cats are not recorded.
const cat = new OwnCat(tmp.dir, `hrepcat${process.pid.toString(36)}`.slice(0, 15));
const byComm = `proc.comm==${cat.comm}`;

before(async () => {
  // A real recording: trace_open on the host while our cat runs a few times.
  const p = new IgProcess(['run', 'trace_open', '--host', '--record', file, '-o', 'json', '--filter', byComm]);
  try {
    await until('the recording run to see our cat', () => { cat.poke(); return p.stdout.includes(JSON.stringify(cat.file)); }, 30000);
    for (let i = 0; i < 20; i++) cat.poke();
  } finally {
    const r = await p.stop('SIGINT');
    assert.equal(r.code, 0, r.stderr);
  }
});

interface OpenEvent { proc: { comm: string; pid: number }; fname: string }

test('the events of a recording, as ig replay -o json prints them, with nothing loaded', async () => {
  const ref = runIgSync(['replay', file, '-o', 'json', '--filter', byComm]);
  assert.equal(ref.code, 0, ref.stderr);
  const want = ref.stdout.trim().split('\n').map((l) => JSON.parse(l) as OpenEvent).map((e) => `${e.proc.pid} ${e.fname}`);
  assert.ok(want.length >= 20, `${want.length} cat opens recorded`);
  const run = runGadget('trace_open', { recording: file, filter: byComm });
  const got: string[] = [];
  for await (const e of run as AsyncIterable<GadgetEvent>) {
    const ev = e as unknown as OpenEvent;
    got.push(`${ev.proc.pid} ${ev.fname}`);
    assert.deepEqual(ownedProgIds(process.pid), [], 'a replay loads nothing');
  }
  assert.deepEqual(got, want);
  assert.equal(run.lost, 0);
});

test('a slow consumer of a recording loses nothing: the replay waits', async () => {
  const all = runIgSync(['replay', file, '-o', 'json']);
  assert.equal(all.code, 0, all.stderr);
  const total = all.stdout.trim().split('\n').length;
  const run = runGadget('trace_open', { recording: file, maxBufferedBytes: 1 });
  let n = 0;
  for await (const b of run.batches()) { n += b.length; await new Promise((r) => setTimeout(r, 5)); }
  assert.equal(n, total);
  assert.equal(run.lost, 0);
});

test('a recording that does not exist: one clear error', async () => {
  await assert.rejects(async () => { for await (const e of runGadget('trace_open', { recording: join(tmp.dir, 'nope.igrec') })) void e; }, /nope\.igrec/);
});
