/**
 * Small process/mount/cgroup helpers shared by the container-runtime test harnesses
 * (test/harness/containerd.ts, test/harness/podman.ts). Everything here acts only on things the
 * harness itself created: processes are found by a unique temp-dir path in their command line and
 * signalled by PID; mounts and cgroups are matched by that unique path / name.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface ExecResult { stdout: string; stderr: string }

/** Root, every one of `bins` on PATH, and a busybox for the test images: what a runtime harness needs to start. */
export function runtimeUsable(bins: string[]): boolean {
  const onPath = (b: string) => (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => fs.existsSync(path.join(d, b)));
  return process.getuid?.() === 0 && bins.every(onPath) && (fs.existsSync('/bin/busybox') || fs.existsSync('/usr/bin/busybox'));
}

/** Whether a unix socket accepts a connection (the runtime's API is up). */
export function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Run a command; resolve with its output, reject with an Error carrying stderr on failure. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, {
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr || err.message).trim()}`);
        reject(e);
        return;
      }
      resolve({ stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until `pred()` is truthy (polling); throws after `timeoutMs`. */
export async function waitFor<T>(what: string, pred: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await pred();
      if (v) return v as NonNullable<T>;
    } catch (e) { lastErr = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Send SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves when the pid is gone (or is a zombie of someone else). */
export async function killPid(pid: number, graceMs = 3000): Promise<void> {
  if (!pidAlive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid) || isZombie(pid)) return;
    await sleep(20);
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  const deadline2 = Date.now() + 2000;
  while (Date.now() < deadline2 && pidAlive(pid) && !isZombie(pid)) await sleep(20);
}

const isZombie = (pid: number): boolean => zombie(pid);

/** PIDs (other than ours) whose command line contains `needle` (a unique temp-dir path). */
export function pidsWithCmdlineContaining(needle: string): number[] {
  const out: number[] = [];
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const pid = Number(ent);
    if (pid === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(needle)) out.push(pid);
    } catch { /* raced with exit */ }
  }
  return out;
}

/** Lazily unmount every mount point at or below `dir` (deepest first). */
export async function unmountBelow(dir: string): Promise<void> {
  let mounts: string[] = [];
  try {
    mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => !!m)
      .map((m) => m.replace(/\\(\d{3})/g, (_s, o: string) => String.fromCharCode(parseInt(o, 8))))
      .filter((m) => m === dir || m.startsWith(dir + '/'));
  } catch { return; }
  mounts.sort((a, b) => b.length - a.length);
  for (const m of [...new Set(mounts)]) {
    try { await run('umount', ['-l', m], { timeoutMs: 10_000 }); } catch { /* already gone */ }
  }
}

/** SIGKILL every process in the cgroup `rel` (e.g. `/igtest-x`) and below, in every mounted hierarchy. */
export async function killCgroupTree(rel: string): Promise<void> {
  const pids = new Set<number>();
  const collect = (dir: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    try {
      for (const l of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch { /* no procs file */ }
    for (const e of entries) if (e.isDirectory()) collect(path.join(dir, e.name));
  };
  for (const r of cgroupRoots()) collect(path.join(r, rel));
  pids.delete(process.pid);
  for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  // Best effort: the caller removes the cgroup next and reports what is still in it.
  if (pids.size) await waitFor('cgroup processes to exit', () => [...pids].every((p) => !pidAlive(p) || zombie(p)), 5000).catch(() => undefined);
}

function zombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch { return true; }
}

function cgroupRoots(): string[] {
  const base = '/sys/fs/cgroup';
  try {
    // cgroup2 at the root, or hybrid/v1 layout with one dir per hierarchy
    if (fs.existsSync(path.join(base, 'cgroup.controllers'))) return [base];
    return fs.readdirSync(base).map((e) => path.join(base, e));
  } catch { return []; }
}

/** Remove the (empty) cgroup directory `rel` (e.g. `/igtest-x`) and its sub-cgroups in every mounted hierarchy. */
export async function removeCgroupTree(rel: string): Promise<void> {
  for (const r of cgroupRoots()) await rmdirDeep(path.join(r, rel));
}

async function rmdirDeep(dir: string): Promise<void> {
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of entries) if (e.isDirectory()) await rmdirDeep(path.join(dir, e.name));
  for (let i = 0; i < 40; i++) {
    try { fs.rmdirSync(dir); return; } catch (err) {
      // EBUSY: a just-killed task may still be leaving the cgroup
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY') return;
      await sleep(50);
    }
  }
}

/** Remove a directory tree after unmounting anything below it. */
export async function removeTree(dir: string): Promise<void> {
  await unmountBelow(dir);
  try { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
}
