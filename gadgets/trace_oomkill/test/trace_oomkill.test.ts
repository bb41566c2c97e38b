// trace_oomkill: a child in a memory cgroup (v1 controller) with a 32 MiB limit allocates 256 MiB and is
// killed by the OOM killer. The cgroup is removed at the end, even when the test fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf, PYTHON } from '../../../test/harness/activity.js';

interface OomEvent {
  timestamp: string; fprocess: { pid: number; tid: number; comm: string; mntns_id: number; creds: { uid: number; gid: number }; parent: { pid: number } };
  tpid: number; tcomm: string; pages: number; tmntns_id: number;
}

const MEMCG = '/sys/fs/cgroup/memory';
const cg = `${MEMCG}/igtest-oom-${process.pid}`;
const skip = existsSync(`${MEMCG}/memory.limit_in_bytes`) ? false : 'no cgroup v1 memory controller at /sys/fs/cgroup/memory';
const kids: ChildProcess[] = [];

function setup(): void {
  if (!existsSync(cg)) mkdirSync(cg);
  writeFileSync(`${cg}/memory.limit_in_bytes`, String(32 << 20));
  if (existsSync(`${cg}/memory.memsw.limit_in_bytes`)) writeFileSync(`${cg}/memory.memsw.limit_in_bytes`, String(32 << 20));
}

after(async () => {
  for (const k of kids) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
  // The cgroup can be removed once its tasks are gone.
  for (let i = 0; i < 100 && existsSync(cg); i++) {
    try { rmdirSync(cg); } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
});

/** A shell that joins the cgroup, then execs python3 touching 256 MiB. Starts only when the last one ended. */
function oomOnce(pids: Set<number>): void {
  if (kids.some((k) => k.exitCode === null && k.signalCode === null)) return;
  const c = spawn('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${PYTHON} -c 'a = b"x" * (256 << 20)'`], { stdio: 'ignore' });
  kids.push(c);
  pids.add(c.pid!);
}

test('a memory cgroup OOM kill: killed and triggering process, pages', { skip }, async () => {
  setup();
  const ig = new IgProcess(['run', 'trace_oomkill', '--host', '-o', 'json']);
  const pids = new Set<number>();
  try {
    const ev = await ig.waitFor<OomEvent>((e) => pids.has(e.tpid), () => oomOnce(pids), { everyMs: 500, timeoutMs: 30000 });
    const k = kids.find((c) => c.pid === ev.tpid)!;
    if (k.exitCode === null && k.signalCode === null) await new Promise((r) => k.once('exit', r));
    assert.equal(k.signalCode, 'SIGKILL', 'the child was killed');
    assert.equal(ev.tcomm, 'python3');
    assert.equal(ev.fprocess.pid, ev.tpid, 'the child triggered its own OOM');
    assert.equal(ev.fprocess.comm, 'python3');
    assert.equal(ev.fprocess.parent.pid, process.pid);
    assert.equal(ev.fprocess.creds.uid, process.getuid!());
    assert.equal(ev.fprocess.creds.gid, process.getgid!());
    // Resident pages (4 KiB): more than a bare interpreter, far less than the 256 MiB it wanted (the cgroup
    // caps its anonymous memory at 32 MiB; shared library pages count too).
    assert.ok(ev.pages > 1000 && ev.pages < (128 << 20) / 4096, String(ev.pages));
    assert.ok(ev.tmntns_id > 0);
    assert.equal(ev.fprocess.mntns_id, ev.tmntns_id);
    // The cgroup's own count agrees.
    assert.ok(Number(/oom_kill (\d+)/.exec(readFileSync(`${cg}/memory.oom_control`, 'utf8'))?.[1]) > 0);
  } finally {
    await ig.stop();
  }
});

test('columns: the triggering process (COMM PID TID UID GID), TPID TCOMM PAGES', { skip }, async () => {
  setup();
  const ig = new IgProcess(['run', 'trace_oomkill', '--host']);
  const { header, row } = await columnsOf(ig, /python3\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+python3/, () => oomOnce(new Set()), 30000);
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+TPID\s+TCOMM\s+PAGES/);
  assert.match(row, /^\s*\S*\s*python3\s+(\d+)\s+\1\s+\d+\s+\d+\s+\1\s+python3\s+\d+$/);
});
