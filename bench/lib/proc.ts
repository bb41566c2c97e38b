// /proc readers for the benchmarks: per-process CPU (utime+stime) and peak RSS, system-wide busy time.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
