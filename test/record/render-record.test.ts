// `ig run … -o json --record FILE`: the reader thread renders the records with the output's plan AND hands them to
// the native recorder (render + record mode, native/src/reader.c); records the plan misses on go to JS, which
// records them after the host facts it asked for. What it prints must be what the same run without --record
// prints, and the recording must replay to exactly that.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, runIgSync } from '../harness/ig.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-h18replay-rr-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const COMM = 'h18rrcat';
const cat = join(dir, COMM);
copyFileSync('/bin/cat', cat);
spawnSync('chmod', ['755', cat]);
const files = Array.from({ length: 20 }, (_, i) => { const f = join(dir, `f${i}.txt`); writeFileSync(f, 'x\n'); return f; });

/** Until both have started (their programs are attached before -v says how records are read). */
async function started(ig: IgProcess, what: RegExp): Promise<void> {
  const t0 = Date.now();
  while (!what.test(ig.stderr)) {
    assert.ok(ig.child.exitCode === null && Date.now() - t0 < 30000, `ig did not start: ${ig.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('trace_open -o json --record renders on the reader thread: the output equals the run without --record, the recording replays it', async () => {
  const file = join(dir, 'rr.igrec');
  // No timestamps: the two runs' programs stamp the same opens each at their own moment. No proc.exe: each run reads
  // /proc/PID/exe when it first shows the process, which may be before or after the short-lived cat exited.
  const flags = ['--host', '--comm', COMM, '-o', 'json', '--fields', 'proc.comm,proc.pid,proc.creds.user,fname,error,fd,flags', '-v'];
  const rec = new IgProcess(['run', 'trace_open', ...flags, '--record', file]);
  const plain = new IgProcess(['run', 'trace_open', ...flags]);
  await started(rec, /open: records rendered on the reader thread and recorded there/);
  await started(plain, /open: records rendered on the reader thread/);
  // Several processes (memo misses for every new pid: JS renders and records those), many opens each.
  for (let k = 0; k < 6; k++) {
    spawnSync(cat, files, { stdio: 'ignore' });
    spawnSync(cat, [...files, join(dir, 'missing')], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const [a, b] = await Promise.all([rec.stop(), plain.stop()]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.ok(a.stdout.split('\n').filter((l) => l.includes(join(dir, 'f3.txt'))).length >= 12, a.stdout.slice(0, 2000));
  assert.match(a.stderr, /open: [1-9]\d* records rendered on the reader thread/);
  assert.equal(a.stdout, b.stdout, 'the output with --record differs from the output without');
  const r = runIgSync(['replay', file, ...flags.filter((f) => f !== '-v')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, a.stdout, 'the replay differs from the live run');
});
