// snapshot_process: one table of the running processes (taken with an on-demand program run through
// BPF_PROG_TEST_RUN, this kernel having no BPF iterators), compared with what ps sees.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { runIgSync } from '../../../test/harness/ig.js';
import { ProgTap, waitUnloaded } from '../../../test/harness/owned-progs.js';

// upstream's record: struct gadget_process (comm, pid, tid, mntns_id, creds.{uid,gid}, parent.{comm,pid,tid})
interface Proc { comm: string; pid: number; tid: number; creds: { uid: number; gid: number }; parent: { comm: string; pid: number; tid: number }; mntns_id: number }

const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
const tap = new ProgTap();
after(() => { sleeper.kill('SIGKILL'); tap.cleanup(); });

function ps(): Set<number> {
  const r = spawnSync('ps', ['-e', '-o', 'pid='], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return new Set(r.stdout.split('\n').filter((l) => l.trim()).map(Number));
}

function snapshot(args: string[]): Proc[] {
  const r = runIgSync(['run', 'snapshot_process', '--host', '-o', 'json', ...args], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  const arrays = r.stdout.trim().split('\n');
  assert.equal(arrays.length, 1, 'one snapshot, then the gadget ends by itself');
  return JSON.parse(arrays[0]!) as Proc[];
}

test('every process ps sees is in the snapshot, with its identity', () => {
  const before = ps();
  const procs = snapshot([]);
  const afterPs = ps();
  const pids = new Set(procs.map((p) => p.pid));
  const stable = [...before].filter((p) => afterPs.has(p));
  assert.ok(stable.length > 5);
  for (const p of stable) assert.ok(pids.has(p), `pid ${p} (in ps before and after) is in the snapshot`);
  // and nothing that never existed: every snapshot pid was alive in one of the ps runs or in between
  const extra = procs.filter((p) => !before.has(p.pid) && !afterPs.has(p.pid));
  assert.ok(extra.length <= 10, `only short-lived extras: ${extra.map((p) => `${p.pid}/${p.comm}`)}`);
  assert.ok(procs.every((p) => p.tid === p.pid), 'processes, not threads');

  const s = procs.find((p) => p.pid === sleeper.pid);
  assert.ok(s, 'the test\'s sleep child');
  assert.equal(s!.comm, 'sleep');
  assert.equal(s!.parent.pid, process.pid);
  assert.equal(s!.parent.comm, 'node');
  assert.ok(s!.parent.tid > 0);
  assert.equal(s!.creds.uid, process.getuid!());
  assert.equal(s!.creds.gid, process.getgid!());
  const mntns = Number(/\[(\d+)\]/.exec(spawnSync('readlink', ['/proc/self/ns/mnt'], { encoding: 'utf8' }).stdout)![1]);
  assert.equal(s!.mntns_id, mntns);
  // Default sort: pid, tid.
  for (let i = 1; i < procs.length; i++) assert.ok(procs[i - 1]!.pid <= procs[i]!.pid);
});

test('--threads lists the threads of each process', () => {
  const procs = snapshot(['--threads']);
  const mine = procs.filter((p) => p.pid === process.pid);
  const tasks = readdirSync(`/proc/${process.pid}/task`).map(Number);
  assert.ok(mine.length >= 2, 'node has several threads');
  for (const t of tasks) assert.ok(mine.some((p) => p.tid === t), `thread ${t}`);
  assert.ok(mine.every((p) => p.comm !== ''));
});

test('columns: one table with upstream\'s columns, and the run ends by itself', () => {
  const r = runIgSync(['run', 'snapshot_process', '--host', '--fields', 'comm,pid,tid,creds.uid,creds.gid,parent.pid'], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  // members of the process struct are shown by their own names (creds.uid as UID, parent.pid as PID)
  assert.match(lines[0]!, /^COMM\s+PID\s+TID\s+UID\s+GID\s+PID$/);
  assert.equal(lines.filter((l) => /^COMM\s/.test(l)).length, 1);
  assert.ok(lines.some((l) => new RegExp(`^sleep\\s+${sleeper.pid}\\s+${sleeper.pid}\\s+0\\s+0\\s+${process.pid}$`).test(l)), r.stdout.slice(0, 500));
});

test('upstream\'s filter params: --pid and --comm select in the kernel', () => {
  const byPid = snapshot(['--pid', String(sleeper.pid)]);
  assert.deepEqual(byPid.map((p) => p.pid), [sleeper.pid]);
  const byComm = snapshot(['--comm', 'sleep']);
  assert.ok(byComm.some((p) => p.pid === sleeper.pid) && byComm.every((p) => p.comm === 'sleep'), JSON.stringify(byComm.map((p) => p.comm)));
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
