// Child processes for the benchmarks: spawn with known PIDs, read lines from a piped stdout, stop by PID
// (SIGINT first, SIGKILL after a timeout), and remember every child so that a failing run leaves none behind.
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
  exit?: Exit;
  /** Complete stdout lines so far (only when stdout is a pipe). */
  lines: string[];
  /** performance.now() when the first complete stdout line arrived (only when stdout is a pipe). */
  firstLineAt?: number;
  /** Called for every complete stdout line (only when stdout is a pipe). */
  onLine?: (line: string) => void;
}

const live = new Set<Child>();
/** Every PID this process has started (for the final "no BPF program left behind" check). */
export const spawnedPids = new Set<number>();

export interface StartOptions {
  /** 'pipe' to collect stdout lines, or an fd (file) to send it to. */
  stdout: 'pipe' | number | 'ignore';
  stderr: number | 'ignore' | 'inherit' | 'pipe';
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function start(name: string, cmd: string, args: string[], opts: StartOptions): Child {
  const stdio: StdioOptions = ['ignore', opts.stdout, opts.stderr];
  const proc = spawn(cmd, args, { stdio, env: opts.env ?? process.env, cwd: opts.cwd });
  if (proc.pid === undefined) throw new Error(`${name}: cannot start ${cmd}`);
  let resolveExit!: (e: Exit) => void;
  const exited = new Promise<Exit>((r) => { resolveExit = r; });
  const child: Child = { name, proc, pid: proc.pid, exited, lines: [] };
  live.add(child);
  spawnedPids.add(proc.pid);
  proc.on('exit', (code, signal) => {
    child.exit = { code, signal };
    live.delete(child);
    resolveExit(child.exit);
  });
  proc.on('error', (err) => {
    process.stderr.write(`${name}: ${err.message}\n`);
  });
  if (opts.stdout === 'pipe' && proc.stdout) {
    let partial = '';
    proc.stdout.setEncoding('latin1');
    proc.stdout.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (child.firstLineAt === undefined) child.firstLineAt = performance.now();
        child.lines.push(line);
        child.onLine?.(line);
      }
    });
  }
  return child;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolve with the first stdout line matching `re` (already seen or future); reject on exit or timeout. */
export function waitLine(child: Child, re: RegExp, timeoutMs: number): Promise<string> {
  const seen = child.lines.find((l) => re.test(l));
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const prev = child.onLine;
    const done = (fn: () => void) => { clearTimeout(timer); child.onLine = prev; fn(); };
    const timer = setTimeout(() => done(() => reject(new Error(`${child.name}: no line matching ${re} within ${timeoutMs} ms`))), timeoutMs);
    child.onLine = (line) => {
      prev?.(line);
      if (re.test(line)) done(() => resolve(line));
    };
    void child.exited.then((e) => done(() => reject(new Error(`${child.name} exited (code ${e.code}, signal ${e.signal}) before printing a line matching ${re}`))));
  });
}

/** Wait for exit up to timeoutMs; true if it exited. */
export async function waitExit(child: Child, timeoutMs: number): Promise<boolean> {
  if (child.exit) return true;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<false>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
  const ok = await Promise.race([child.exited.then(() => true as const), t]);
  clearTimeout(timer);
  return ok;
}

/** Send `signal` to the child's PID; SIGKILL it if it has not exited after timeoutMs. Returns its exit. */
export async function stop(child: Child, signal: NodeJS.Signals = 'SIGINT', timeoutMs = 15000): Promise<Exit> {
  if (!child.exit) {
    try { process.kill(child.pid, signal); } catch { /* already gone */ }
    if (!(await waitExit(child, timeoutMs))) {
      process.stderr.write(`${child.name} (pid ${child.pid}) did not exit after ${signal}; sending SIGKILL\n`);
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      await waitExit(child, 5000);
    }
  }
  return child.exit ?? { code: null, signal: 'SIGKILL' };
}

/** Stop every child still running (one by one, by PID). */
export async function stopAll(): Promise<void> {
  for (const c of [...live]) await stop(c, 'SIGINT', 5000);
}

/** PIDs of all children started so far that are still running. */
export function livePids(): number[] {
  return [...live].map((c) => c.pid);
}

/** Tracepoint names that process `pid` has BPF programs attached to, from `bpftool perf list`. */
export function attachedTracepoints(pid: number): Set<string> {
  const out = new Set<string>();
  let text: string;
  try { text = execFileSync('bpftool', ['perf', 'list', '-j'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { return out; }
  let rows: { pid: number; tracepoint?: string }[];
  try { rows = JSON.parse(text) as { pid: number; tracepoint?: string }[]; } catch { return out; }
  for (const r of rows) if (r.pid === pid && r.tracepoint) out.add(r.tracepoint);
  return out;
}

/** Processes other than ours with BPF programs on any of `tracepoints` (other users of the machine add noise). */
export function foreignTracers(tracepoints: string[]): { pid: number; comm: string }[] {
  let text: string;
  try { text = execFileSync('bpftool', ['perf', 'list', '-j'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { return []; }
  const pids = new Set<number>();
  for (const r of JSON.parse(text) as { pid: number; tracepoint?: string }[]) {
    if (r.tracepoint && tracepoints.includes(r.tracepoint) && !spawnedPids.has(r.pid)) pids.add(r.pid);
  }
  return [...pids].map((pid) => {
    let comm = '?';
    try { comm = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim().slice(0, 120); } catch { /* gone */ }
    return { pid, comm };
  });
}

/** PIDs of processes holding an fd of BPF program `id` (from /proc/PID/fdinfo). */
export function programOwners(id: number): number[] {
  const owners: number[] = [];
  const want = new RegExp(`^prog_id:\\s+${id}$`, 'm');
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let fds: string[];
    try { fds = readdirSync(`/proc/${p}/fdinfo`); } catch { continue; }
    for (const fd of fds) {
      let info: string;
      try { info = readFileSync(`/proc/${p}/fdinfo/${fd}`, 'latin1'); } catch { continue; }
      if (want.test(info)) { owners.push(Number(p)); break; }
    }
  }
  return owners;
}

/** Poll until `pid` has every tracepoint in `want` attached; reject after timeoutMs or when the child exits. */
export async function waitAttached(child: Child, want: string[], timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    if (child.exit) throw new Error(`${child.name} exited (code ${child.exit.code}, signal ${child.exit.signal}) before attaching`);
    const have = attachedTracepoints(child.pid);
    if (want.every((w) => have.has(w))) return;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${child.name}: ${want.join(', ')} not attached after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** BPF programs (id, name) still held by any of `pids`, from `bpftool prog show`. */
export function programsHeldBy(pids: Set<number>): { id: number; name: string; pids: number[] }[] {
  let text: string;
  try { text = execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 }); } catch { return []; }
  const rows = JSON.parse(text) as { id: number; name?: string; pids?: { pid: number }[] }[];
  const out: { id: number; name: string; pids: number[] }[] = [];
  for (const r of rows) {
    const owners = (r.pids ?? []).map((p) => p.pid).filter((p) => pids.has(p));
    if (owners.length > 0) out.push({ id: r.id, name: r.name ?? '', pids: owners });
  }
  return out;
}

/** All BPF programs loaded right now (id, name, owner PIDs), from `bpftool prog show`. */
export function loadedPrograms(): { id: number; name: string; pids: number[] }[] {
  let text: string;
  try { text = execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 }); } catch { return []; }
  return (JSON.parse(text) as { id: number; name?: string; pids?: { pid: number }[] }[]).map((r) => ({ id: r.id, name: r.name ?? '', pids: (r.pids ?? []).map((p) => p.pid) }));
}
