// JSON lines rendered on the reader thread (native render plan) straight away and after a memo miss (records whose
// memo key is new: JS fills the memo, the reader thread renders the line in place) must come out complete and in
// the kernel's order. A new process is a new key for the `proc.exe` memo: the exe tracker answers it on the reader
// thread when the process forked or exec'd in ig's mount namespace, but not a child that moved to a mount namespace
// of its own (unshare -m) before it opened: so a shell that opens files itself (rendered at once) and through such
// children (each one a memo miss) interleaves both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';

interface OpenEvent { proc: { comm: string; pid: number; exe: string }; fname: string; error: string; timestamp: string }

test('lines rendered at once and after a memo miss interleave in order, and a miss does not leave the reader thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-native-'));
  const sh = join(dir, 'igord_sh');
  copyFileSync('/bin/bash', sh); // a comm of our own: only this script's opens are traced
  const n = 150;
  const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json', '--comm', 'igord_sh', '-v']);
  try {
    // Wait until the gadget is attached: the first open of a probe file shows up.
    await ig.waitFor<OpenEvent>((e) => e.fname.endsWith('/probe'), () => { spawnSync(sh, ['-c', `: < ${dir}/probe`], { stdio: 'ignore' }); }, { timeoutMs: 20000 });
    // a-i, b-i and d-i: opened by the shell itself; c-i: by a child in a mount namespace of its own.
    const script = `for i in $(seq 1 ${n}); do : < ${dir}/a-$i; : < ${dir}/b-$i; : < ${dir}/d-$i; unshare -m ${sh} -c ": < ${dir}/c-$i"; done 2>/dev/null`;
    const r = spawnSync(sh, ['-c', script], { stdio: 'ignore' });
    assert.equal(r.status, 1, 'the last redirect of a missing file fails');
    await ig.waitFor<OpenEvent>((e) => e.fname === `${dir}/c-${n}`, () => {}, { timeoutMs: 20000 });
  } finally {
    const res = await ig.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(res.code, 0, res.stderr);
    const names = ig.events<OpenEvent>().map((e) => e.fname).filter((f) => /\/[abcd]-\d+$/.test(f)).map((f) => f.slice(f.lastIndexOf('/') + 1));
    const expected: string[] = [];
    for (let i = 1; i <= n; i++) expected.push(`a-${i}`, `b-${i}`, `d-${i}`, `c-${i}`);
    assert.deepEqual(names, expected, 'every open, in order');
    const m = /open: (\d+) records rendered on the reader thread, (\d+) by JS \((\d+) rendered there after JS filled their memos\)/.exec(res.stderr);
    assert.ok(m, `no render statistics in: ${res.stderr}`);
    const [nativeCount, jsCount, inPlace] = [Number(m[1]), Number(m[2]), Number(m[3])];
    // After a miss the rest of that poll waits for the memos too, so the split depends on timing.
    assert.ok(inPlace >= n, `rendered in place after a miss: ${inPlace} (each child is a new memo key)`);
    assert.ok(nativeCount - inPlace > 0, `rendered at once: ${nativeCount - inPlace}`);
    assert.equal(jsCount, 0, 'every miss was answered by JS and rendered on the reader thread');
    assert.ok(nativeCount >= 4 * n, `${nativeCount} records for ${4 * n} opens`);
    for (const e of ig.events<OpenEvent>().filter((x) => /\/c-\d+$/.test(x.fname))) {
      assert.equal(e.proc.comm, 'igord_sh');
      assert.equal(e.error, 'ENOENT');
    }
  }
});

test('a reader that closes the output (ig ... | head) ends the run quietly', async () => {
  const { spawn: spawnChild } = await import('node:child_process');
  const { IG_MAIN } = await import('../../../test/harness/ig.js');
  const ig = spawnChild(process.execPath, [IG_MAIN, 'run', 'trace_open', '--host', '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  ig.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((res) => ig.on('exit', (code) => res(code)));
  const poke = setInterval(() => { spawnSync('cat', ['/etc/hostname'], { stdio: 'ignore' }); }, 20);
  const killer = setTimeout(() => ig.kill('SIGKILL'), 20000);
  try {
    // Close our end after the first line, as head(1) does.
    await new Promise<void>((res) => ig.stdout!.once('data', () => { ig.stdout!.destroy(); res(); }));
    const code = await exited;
    assert.equal(code, 0, stderr);
    assert.equal(stderr.trim(), '');
  } finally {
    clearInterval(poke);
    clearTimeout(killer);
  }
});
