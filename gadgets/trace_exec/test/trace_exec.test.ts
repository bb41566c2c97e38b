// trace_exec: exec a program with known arguments from a child process and check the event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';

/** Whether the exec's arguments (joined with U+00A0) have this one whole: a marker ending in our pid is a prefix of others'. */
const hasArg = (e: { args: string }, arg: string) => e.args.split('\u00a0').includes(arg);

interface ExecEvent {
  timestamp: string;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number }; parent: { comm: string; pid: number } };
  args: string; args_count: number; error: string; exepath: string; file: string; upper_layer: boolean;
}

test('ig run trace_exec reports an exec with its arguments, pid and parent', async () => {
  const marker = `ig-exec-test-${process.pid}`;
  const ig = new IgProcess(['run', 'trace_exec', '--host', '-o', 'json', '--filter', 'proc.comm==echo']);
  const pids = new Set<number>();
  const ev = await ig.waitFor<ExecEvent>((e) => hasArg(e, marker) && pids.has(e.proc.pid), () => {
    const c = spawn('/bin/echo', ['hello', marker], { stdio: 'ignore' });
    pids.add(c.pid!);
  });
  const r = await ig.stop();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ev.proc.comm, 'echo');
  // joined by the gadget's WASM module with U+00A0, as upstream's
  assert.equal(ev.args, ['/bin/echo', 'hello', marker].join('\u00a0'));
  assert.equal(ev.args_count, 3);
  assert.equal(ev.error, '');
  assert.equal(ev.proc.parent.pid, process.pid);
  assert.equal(ev.proc.creds.uid, process.getuid!());
  assert.ok(Math.abs(Date.now() - Date.parse(ev.timestamp)) < 60000, ev.timestamp);
});

test("the WASM module joins the arguments as upstream's: U+00A0 between them, spaces and empty ones kept", async () => {
  const marker = `ig-exec-join-${process.pid}`;
  const ig = new IgProcess(['run', 'trace_exec', '--host', '-o', 'json', '--filter', 'proc.comm==echo']);
  const argv = ['with space', '', marker, 'x'.repeat(100)];
  const ev = await ig.waitFor<ExecEvent>((e) => hasArg(e, marker), () => { spawn('/bin/echo', argv, { stdio: 'ignore' }); });
  await ig.stop();
  assert.equal(ev.args, ['/bin/echo', ...argv].join('\u00a0'));
  assert.equal(ev.args_count, 5);
});

test('columns show COMM PID TID UID GID PCOMM PPID ERROR ARGS', async () => {
  const ig = new IgProcess(['run', 'trace_exec', '--host', '--filter', 'proc.comm==true']);
  // the machine's other `true`s show up too: ours is the row with this argument, and this process as parent
  const marker = `--ig-arg-${process.pid}`;
  const ours = (l: string) => l.endsWith(`true\u00a0${marker}`);
  const deadline = Date.now() + 20000;
  while (!ig.stdout.split('\n').some(ours) && Date.now() < deadline) {
    spawn('true', [marker], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 250));
  }
  await ig.stop();
  const [header, ...rows] = ig.stdout.split('\n');
  assert.match(header!, /COMM\s+PID\s+TID\s+UID\s+GID\s+PCOMM\s+PPID\s+ERROR\s+ARGS/);
  const row = rows.find(ours);
  assert.ok(row, ig.stdout);
  assert.match(row, new RegExp(`^\\s*true\\s+(\\d+)\\s+\\1\\s+\\d+\\s+\\d+\\s+\\S+\\s+${process.pid}\\s+\\S*true\u00a0${marker}$`));
});

test('failed execs are hidden by default and shown with --ignore-failed=false', async () => {
  const ig = new IgProcess(['run', 'trace_exec', '--host', '-o', 'json', '--ignore-failed=false', '--filter', 'error==ENOENT']);
  const missing = `/nonexistent/ig-exec-${process.pid}`;
  const ev = await ig.waitFor<ExecEvent>((e) => e.args.split('\u00a0')[0] === missing, () => {
    spawn(missing, [], { stdio: 'ignore' }).on('error', () => undefined);
  });
  await ig.stop();
  assert.equal(ev.error, 'ENOENT');
});

test("upstream's full field set: file identity, change times, rootfs, terminal and, with --paths, the parent's executable", async () => {
  const { statSync } = await import('node:fs');
  const marker = `ig-exec-fields-${process.pid}`;
  const ig = new IgProcess(['run', 'trace_exec', '--host', '-o', 'json', '--paths', '--filter', 'proc.comm==echo']);
  type Full = ExecEvent & {
    tty: number; tty_major: number; tty_minor: number; from_rootfs: boolean; file_from_rootfs: boolean;
    dev_major: number; dev_minor: number; inode: number; ctime: number; fctime: number; pctime: number;
    parent_exepath: string; cwd: string;
  };
  try {
    // `script` gives the exec a controlling terminal (a pseudo-terminal, major 136..143)
    const ev = await ig.waitFor<Full>((e) => hasArg(e, marker), () => {
      spawn('script', ['-qec', `/bin/echo ${marker}`, '/dev/null'], { stdio: 'ignore' });
    });
    const st = statSync('/bin/echo', { bigint: true });
    assert.equal(BigInt(ev.inode), st.ino);
    assert.equal(ev.dev_major, Number(st.dev) >> 8, 'old-style st_dev: major in bits 8-19');
    assert.equal(ev.dev_minor, Number(st.dev) & 0xff);
    // change times in ns since the epoch, as stat reports them (JSON numbers: within a double's 256 ns spacing)
    const near = (a: number, b: bigint) => Math.abs(a - Number(b)) <= 512;
    assert.ok(near(ev.fctime, st.ctimeNs), `${ev.fctime} vs ${st.ctimeNs}`);
    assert.ok(near(ev.ctime, statSync(ev.exepath, { bigint: true }).ctimeNs), `${ev.ctime}`);
    assert.ok(ev.pctime > 0);
    assert.equal(ev.from_rootfs, true);
    assert.equal(ev.file_from_rootfs, true);
    assert.ok(ev.tty_major >= 136 && ev.tty_major <= 143, `pty major: ${ev.tty_major}`);
    assert.equal(ev.tty_minor, ev.tty, 'pts: minor_start 0, so minor = index');
    assert.match(ev.parent_exepath, /^\/.+/);
    assert.equal(ev.cwd, process.cwd());
  } finally {
    await ig.stop();
  }
});
