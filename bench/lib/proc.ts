// /proc readers for the benchmarks: per-process CPU (utime+stime) and peak RSS, system-wide busy time.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

let clkTck: number | undefined;

/** Clock ticks per second (USER_HZ) used by /proc/PID/stat and /proc/stat. */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try { clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { clkTck = 100; }
  }
  return clkTck;
}

/** utime+stime of a whole process (all its threads, live or exited), in seconds; null if it is gone. */
export function processCpuSeconds(pid: number): number | null {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { return null; }
  // The comm field (2nd) is in parentheses and may contain spaces: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / clockTicks();
}

/**
 * CPU time of a process in nanoseconds: the sum over its live threads of the first field of
 * /proc/PID/task/TID/schedstat (time on CPU, ns, where utime+stime come in 10 ms ticks: ±20 % over the 300-600 ms
 * of a storm run). It misses threads that exited between two reads (their time is only in /proc/PID/stat's totals):
 * compare it over a span where the consumer keeps its threads (ig, execsnoop, bpftrace do). Null if the process is
 * gone.
 */
export function processCpuNs(pid: number): number | null {
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return null; }
  let ns = 0;
  for (const t of tids) {
    try { ns += threadNs(pid, t); } catch { /* exited */ }
  }
  return ns;
}

/** A thread's time on CPU in ns (the first field of its schedstat); throws if it is gone. */
function threadNs(pid: number, tid: number | string): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
}

/**
 * A reader's poll thread in an ig process: the one thread whose timer slack is not the default 50 us (native/src/
 * reader.c sets its own). Undefined when there is not exactly one.
 */
export function readerThread(pid: number): number | undefined {
  const own: number[] = [];
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return undefined; }
  for (const t of tids) {
    // /proc/TID/timerslack_ns: the task directories have no such file
    try { if (readFileSync(`/proc/${t}/timerslack_ns`, 'latin1').trim() !== '50000') own.push(Number(t)); } catch { /* exited */ }
  }
  return own.length === 1 ? own[0] : undefined;
}

/** A thread's CPU (schedstat, ns) and voluntary context switches (the sleeps it woke from); null if it is gone. */
export function threadCpu(pid: number, tid: number): { ns: number; switches: number } | null {
  try {
    const ns = threadNs(pid, tid);
    const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1'));
    return { ns, switches: m ? Number(m[1]) : 0 };
  } catch {
    return null;
  }
}

/** A field of /proc/PID/status in kB (VmHWM, VmRSS, ...); null if absent or the process is gone. */
export function statusKb(pid: number, field: string): number | null {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/status`, 'latin1'); } catch { return null; }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

export interface SystemCpu { busy: number; total: number }

/** System-wide CPU seconds from the "cpu" line of /proc/stat: busy = user+nice+system+irq+softirq+steal. */
export function systemCpu(): SystemCpu {
  const line = readFileSync('/proc/stat', 'latin1').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  const hz = clockTicks();
  return { busy: busy / hz, total: (busy + idle + iowait) / hz };
}

/** Number of online CPUs. */
export function onlineCpuCount(): number {
  try {
    const txt = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
    let n = 0;
    for (const part of txt.split(',')) {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined];
      n += (b ?? a) - a + 1;
    }
    return n;
  } catch {
    return 1;
  }
}

/** utime+stime (seconds) and comm of every process right now, by PID. */
export function allProcessCpu(): Map<number, { comm: string; cpu: number }> {
  const out = new Map<number, { comm: string; cpu: number }>();
  const hz = clockTicks();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let text: string;
    try { text = readFileSync(`/proc/${d}/stat`, 'latin1'); } catch { continue; }
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    const rest = text.slice(close + 2).split(' ');
    out.set(Number(d), { comm: text.slice(open + 1, close), cpu: (Number(rest[11]) + Number(rest[12])) / hz });
  }
  return out;
}

/**
 * The processes (other than `exclude`) that used the most CPU between two allProcessCpu() snapshots.
 * Processes that started in between count from zero; processes that ended in between are not seen.
 */
export function topCpuUsers(before: Map<number, { comm: string; cpu: number }>, after: Map<number, { comm: string; cpu: number }>,
  exclude: Set<number>, min = 0.2, n = 4): { pid: number; comm: string; cpuS: number }[] {
  const rows: { pid: number; comm: string; cpuS: number }[] = [];
  for (const [pid, a] of after) {
    if (exclude.has(pid)) continue;
    const d = a.cpu - (before.get(pid)?.cpu ?? 0);
    if (d >= min) rows.push({ pid, comm: a.comm, cpuS: Math.round(d * 100) / 100 });
  }
  const top = rows.sort((x, y) => y.cpuS - x.cpuS).slice(0, n);
  for (const r of top) {
    // The command line says more than the comm ("node"); the process may be gone already.
    try {
      const cmd = readFileSync(`/proc/${r.pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      if (cmd) r.comm = cmd.length > 80 ? `${cmd.slice(0, 80)}…` : cmd;
    } catch { /* gone */ }
  }
  return top;
}

/**
 * The CPU seconds `pid` used since it had used `cpu0`, once it has settled: at most two ticks of CPU in 500 ms
 * (a consumer still draining its ring after the load ended is counted in full).
 */
export async function drainCpu(pid: number, cpu0: number): Promise<number> {
  const tick = 1 / clockTicks();
  let last = processCpuSeconds(pid) ?? 0;
  for (let stable = 0; stable < 5;) {
    await sleep(100);
    const c = processCpuSeconds(pid) ?? last;
    stable = c - last > 2 * tick + 1e-9 ? 0 : stable + 1;
    last = c;
  }
  return last - cpu0;
}
