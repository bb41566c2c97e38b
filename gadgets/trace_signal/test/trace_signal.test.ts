// trace_signal: signals sent by this process to children (signal_generate), failed kill(2) calls with
// --kill-only, and the default columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf } from '../../../test/harness/activity.js';

interface SignalEvent {
  timestamp: string;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number; gid: number } };
  tpid: number; sig: string; sig_raw: number; error: string; error_raw: number;
}

/** A fresh `sleep` child per poke, signalled from this process. */
function sleeper(kids: ChildProcess[]): ChildProcess {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  c.on('error', () => undefined);
  kids.push(c);
  return c;
}

test('a signal sent to a child: sender, target pid and signal name', async () => {
  const ig = new IgProcess(['run', 'trace_signal', '--host', '-o', 'json', '--pid', String(process.pid)]);
  const kids: ChildProcess[] = [];
  const targets = new Set<number>();
  try {
    const ev = await ig.waitFor<SignalEvent>((e) => targets.has(e.tpid) && e.sig === 'SIGUSR1', () => {
      const c = sleeper(kids);
      targets.add(c.pid!);
      process.kill(c.pid!, 'SIGUSR1');
    });
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ev.proc.pid, process.pid);
    assert.equal(ev.proc.comm, 'node');
    assert.equal(ev.proc.creds.uid, process.getuid!());
    assert.equal(ev.sig_raw, 10);
    assert.equal(ev.error, '');
    assert.ok(Math.abs(Date.now() - Date.parse(ev.timestamp)) < 60000, ev.timestamp);
    // Only this process's signals: --pid is applied in the kernel.
    assert.ok(ig.events<SignalEvent>().every((e) => e.proc.pid === process.pid));
  } finally {
    await ig.stop();
    for (const k of kids) k.kill('SIGKILL');
  }
});

test('-k (--kill-only) with --failed reports a failed kill(2) with its error (ESRCH for a process that does not exist)', async () => {
  // upstream's flag names: --failed, --kill-only with the short alias -k
  const ig = new IgProcess(['run', 'trace_signal', '--host', '-o', 'json', '-k', '--failed', '--pid', String(process.pid)]);
  const nobody = 2_000_000_123; // beyond any pid_max
  try {
    const ev = await ig.waitFor<SignalEvent>((e) => e.tpid === nobody, () => {
      try { process.kill(nobody, 'SIGTERM'); } catch { /* ESRCH expected */ }
    });
    assert.equal(ev.sig, 'SIGTERM');
    assert.equal(ev.error, 'ESRCH');
    assert.equal(ev.error_raw, 3);
    assert.equal(ev.proc.pid, process.pid);
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID TPID SIG ERROR', async () => {
  const ig = new IgProcess(['run', 'trace_signal', '--host', '--pid', String(process.pid)]);
  const kids: ChildProcess[] = [];
  try {
    const { header, row } = await columnsOf(ig, /SIGUSR2/, () => { const c = sleeper(kids); process.kill(c.pid!, 'SIGUSR2'); });
    assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+TPID\s+SIG\s+ERROR/);
    assert.match(row, new RegExp(`node\\s+${process.pid}\\s`));
  } finally {
    for (const k of kids) k.kill('SIGKILL');
  }
});
