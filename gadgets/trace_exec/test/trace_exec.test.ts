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
  args: string; error: string; exepath: string; file: string; upper_layer: boolean;
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
  // args_count and args_size are json.skip (upstream's gadget.yaml): only the joined args are printed
  assert.ok(!('args_count' in ev) && !('args_size' in ev), JSON.stringify(ev));
  // loginuid's name goes to loginuser (upstream's uidgidresolver.target), not to a top-level user
  assert.ok('loginuser' in ev && !('user' in ev), JSON.stringify(ev));
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
});

test('json.skip: args_count and args_size are left out of json, jsonpretty and yaml (native and JS renderers), still shown as columns and read by --filter', async () => {
  const marker = `ig-exec-skip-${process.pid}`;
  const sh = '/bin/echo';
  // --filter on a skipped field: 4 arguments (echo's argv[0] and three), so 2- and 3-argument execs are not shown
  const filter = ['--filter', 'proc.comm==echo,args_count==4'];
  const runs = {
    native: new IgProcess(['run', 'trace_exec', '--host', '-o', 'json', '-v', ...filter]),
    js: new IgProcess(['run', 'trace_exec', '--host', '-o', 'json', ...filter], { IG_NATIVE_RENDER: '0' }),
    pretty: new IgProcess(['run', 'trace_exec', '--host', '-o', 'jsonpretty', ...filter]),
    yaml: new IgProcess(['run', 'trace_exec', '--host', '-o', 'yaml', ...filter]),
    // named by --fields, still left out of JSON (upstream's formatter checks json.skip before any selection)
    named: new IgProcess(['run', 'trace_exec', '--host', '-o', 'json', '--fields', 'proc.comm,args_count,args', ...filter]),
    // a skipped field is still a column when asked for (upstream hides it from JSON only)
    cols: new IgProcess(['run', 'trace_exec', '--host', '--fields', 'proc.comm,args_count,args_size,args', ...filter]),
  };
  const all = Object.values(runs);
  try {
    const done = () => all.every((p) => p.stdout.includes(`${marker}-4`));
    for (let t = 0; t < 120 && !done(); t++) {
      for (const n of [2, 3, 4]) spawn(sh, Array.from({ length: n - 1 }, (_, k) => (k === n - 2 ? `${marker}-${n}` : `a${k}`)), { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await Promise.all(all.map((p) => p.stop()));
  }
  for (const [name, p] of Object.entries(runs)) {
    assert.ok(p.stdout.includes(`${marker}-4`), `${name}: ${p.stderr}`);
    assert.ok(!p.stdout.includes(`${marker}-3`) && !p.stdout.includes(`${marker}-2`), `${name}: filter on args_count: ${p.stdout}`);
  }
  for (const name of ['native', 'js', 'pretty', 'yaml', 'named'] as const) assert.doesNotMatch(runs[name].stdout, /args_count|args_size/, name);
  // the native renderer kept the fast path with args_size only read, not shown
  assert.match(runs.native.stderr, /exec: \d+ records rendered on the reader thread/);
  assert.doesNotMatch(runs.native.stderr, /JSON rendered in JS/);
  // one exec both runs saw (each attached at its own time), without the wall-clock times each run computes
  const lines = (p: IgProcess) => p.stdout.split('\n').filter((l) => l.includes(`${marker}-4`));
  const pidOf = (l: string) => String((JSON.parse(l) as ExecEvent).proc.pid); // the first "pid" is the parent's
  const jsLines = new Map(lines(runs.js).map((l) => [pidOf(l), l]));
  const both = lines(runs.native).find((l) => jsLines.has(pidOf(l)));
  assert.ok(both, 'an exec seen by both runs');
  const comparable = (l: string) => l.replace(/"timestamp":"[^"]*"/, '"timestamp":""').replace(/"timestamp_raw":\d+/, '"timestamp_raw":0');
  assert.equal(comparable(both), comparable(jsLines.get(pidOf(both))!), 'native and JS lines byte-equal');
  const line = (p: IgProcess) => lines(p)[0]!;
  assert.deepEqual(Object.keys(JSON.parse(line(runs.named)) as object), ['args', 'proc'], 'sorted by name, as upstream');
  assert.match(runs.yaml.stdout, new RegExp(`^args: /bin/echo\u00a0a0\u00a0a1\u00a0${marker}-4$`, 'm'));
  // args_size: the four NUL-terminated arguments
  const size = [sh, 'a0', 'a1', `${marker}-4`].reduce((n, a) => n + a.length + 1, 0);
  assert.match(line(runs.cols), new RegExp(`^echo\\s+4\\s+${size}\\s+/bin/echo\u00a0a0\u00a0a1\u00a0${marker}-4$`));
});

test('columns show COMM PID TID UID GID PCOMM PPID ERROR TTY ARGS (TTY shown as upstream\'s gadget.yaml says)', async () => {
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
  assert.match(header!, /COMM\s+PID\s+TID\s+UID\s+GID\s+PCOMM\s+PPID\s+ERROR\s+TTY\s+ARGS/);
  const row = rows.find(ours);
  assert.ok(row, ig.stdout);
  assert.match(row, new RegExp(`^\\s*true\\s+(\\d+)\\s+\\1\\s+\\d+\\s+\\d+\\s+\\S+\\s+${process.pid}\\s+\\d+\\s+\\S*true\u00a0${marker}$`));
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
