// trace_open: run the real gadget, open a file from a child process, check the event it produces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { IgProcess, runIgSync } from '../../../test/harness/ig.js';
import { bpfObjectsOf, progExists } from '../../../test/localmanager/helpers.js';

interface OpenEvent {
  timestamp: string; timestamp_raw: number | string;
  proc: { comm: string; pid: number; tid: number; mntns_id: number; creds: { uid: number; gid: number }; parent: { pid: number } };
  fname: string; fd: number; error: string; error_raw: number; flags: string; mode: string;
}

const catHostname = () => { spawn('cat', ['/etc/hostname'], { stdio: 'ignore' }); };

test('ig run trace_open -o json reports cat /etc/hostname with pid, comm, fname and wall-clock timestamp', async () => {
  const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json', '--filter', 'proc.comm==cat']);
  const pids = new Set<number>();
  const ev = await ig.waitFor<OpenEvent>((e) => e.fname === '/etc/hostname' && pids.has(e.proc.pid), () => {
    const c = spawn('cat', ['/etc/hostname'], { stdio: 'ignore' });
    pids.add(c.pid!);
  });
  const r = await ig.stop();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ev.proc.comm, 'cat');
  assert.equal(ev.proc.tid, ev.proc.pid);
  assert.equal(ev.proc.parent.pid, process.pid);
  assert.ok(ev.fd >= 3, `fd ${ev.fd}`);
  assert.equal(ev.error, '');
  assert.match(ev.flags, /^O_RDONLY/);
  const ts = Date.parse(ev.timestamp);
  assert.ok(Math.abs(Date.now() - ts) < 60000, `timestamp ${ev.timestamp} is not near now`);
  assert.match(ev.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}/);
  const mntns = spawnSync('readlink', ['/proc/self/ns/mnt'], { encoding: 'utf8' }).stdout;
  assert.equal(`mnt:[${ev.proc.mntns_id}]`, mntns.trim());
});

test('failed opens carry the errno name; --failed keeps only them', async () => {
  const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json', '--failed', '--comm', 'cat']);
  // a path of this process's own: another run of this test on the machine opens its own
  const missing = `/nonexistent/ig-test-${process.pid}`;
  const ev = await ig.waitFor<OpenEvent>((e) => e.fname === missing, () => {
    spawn('cat', [missing], { stdio: 'ignore' });
    catHostname();
  });
  await ig.stop();
  assert.equal(ev.error, 'ENOENT');
  assert.equal(ev.error_raw, 2);
  assert.ok(ig.events<OpenEvent>().every((e) => e.error !== ''), 'only failed opens with --failed');
  assert.ok(ig.events<OpenEvent>().every((e) => e.proc.comm === 'cat'), '--comm filters in the kernel');
});

test('--pid filters in the kernel', async () => {
  const target = spawn('sh', ['-c', 'while :; do cat /etc/hostname >/dev/null; sleep 0.1; done'], { stdio: 'ignore' });
  try {
    const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json', '--pid', String(target.pid)]);
    await ig.waitFor<OpenEvent>((e) => e.proc.pid === target.pid, catHostname);
    await new Promise((r) => setTimeout(r, 500));
    await ig.stop();
    const evs = ig.events<OpenEvent>();
    assert.ok(evs.length > 0);
    assert.ok(evs.every((e) => e.proc.pid === target.pid), `only pid ${target.pid}: ${[...new Set(evs.map((e) => e.proc.pid))]}`);
  } finally {
    target.kill('SIGKILL');
  }
});

test('columns output is aligned like upstream and --fields picks columns', async () => {
  const ig = new IgProcess(['run', 'trace_open', '--host', '--filter', 'proc.comm==cat', '--fields', 'proc.comm,proc.pid,fname,error']);
  const deadline = Date.now() + 20000;
  while (!/\/etc\/hostname/.test(ig.stdout) && Date.now() < deadline) { catHostname(); await new Promise((r) => setTimeout(r, 250)); }
  await ig.stop();
  const lines = ig.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^COMM\s+PID FNAME\s+ERROR$/);
  const pidEnd = lines[0]!.indexOf('PID') + 3;
  const row = lines.find((l) => l.includes('/etc/hostname'))!;
  assert.ok(row, ig.stdout);
  assert.match(row.slice(0, 16), /^cat\s+$/);
  assert.match(row.slice(pidEnd - 7, pidEnd), /^\s*\d+$/, 'PID is right-aligned under its header');
  assert.equal(row.indexOf('/etc/hostname'), lines[0]!.indexOf('FNAME'));
});

test('default columns start with the container name and show process fields', async () => {
  const r = runIgSync(['run', 'trace_open', '--host', '-t', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.split('\n')[0]!, /^RUNTIME\.CONTAINERNAME\s+COMM\s+PID\s+TID\s+UID\s+GID\s/);
});

/** ids of the BPF programs a running ig holds (its own, whatever else runs on the machine). */
async function heldPrograms(ig: IgProcess): Promise<number[]> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const ids = bpfObjectsOf(ig.pid).progIds;
    if (ids.length > 0 || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Programs are freed after an RCU grace period: wait a little for them to go. */
async function assertGone(ids: number[]): Promise<void> {
  const deadline = Date.now() + 5000;
  while (ids.some(progExists) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ids.filter(progExists), [], 'programs left loaded');
}

test('--timeout ends the run and detaches every program', async () => {
  const t0 = Date.now();
  const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'none', '--timeout', '2']);
  const ids = await heldPrograms(ig);
  assert.ok(ids.length > 0, 'programs loaded while running');
  const r = await ig.wait();
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - t0 < 15000);
  await assertGone(ids);
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} detaches everything`, async () => {
    const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json']);
    await ig.waitFor(() => true, catHostname);
    const ids = await heldPrograms(ig);
    assert.ok(ids.length > 0, 'programs attached while running');
    const r = await ig.stop(sig);
    assert.equal(r.code, 0, r.stderr);
    await assertGone(ids);
  });
}

test('bad input ends in one clear line and a non-zero exit', () => {
  const cases: [string[], RegExp][] = [
    [['run', 'trace_open', '--bogus'], /^Error: unknown flag: --bogus/],
    [['run', 'trace_open', '--pid', 'abc'], /^Error: invalid value "abc" for --pid/],
    [['run', 'trace_open', '--host', '--filter', 'nope==1', '-t', '1'], /^Error: invalid filter "nope==1": data source open has no field "nope"/],
    [['run', 'trace_open', '--host', '--fields', 'bogus', '-t', '1'], /^Error: invalid --fields: data source open has no field "bogus"/],
    [['run', 'trace_open', '-o', 'xml'], /^Error: invalid value "xml" for --output/],
    [['run', 'no_such_gadget_xyz', '--pull', 'never'], /^Error: .*no_such_gadget_xyz.*not found/],
  ];
  for (const [args, re] of cases) {
    const r = runIgSync(args);
    assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
});

test('ig run trace_open --help lists the gadget params', () => {
  const r = runIgSync(['run', 'trace_open', '--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const flag of ['--pid', '--comm', '--failed', '--filter', '--fields', '--output', '--timeout']) assert.ok(r.stdout.includes(flag), flag);
});
