// IG_TRACE_STARTUP=1: the resident set at each start-up mark, for the per-phase memory table of
// bench/startup.bench.ts. One read of /proc/self/status per mark (≈30 µs, only when tracing).
import { readFileSync } from 'node:fs';

/** What /proc/self/status says, kB: VmRSS, RssAnon, RssFile (the ring buffer and mmapped maps count here), VmHWM. */
export interface ResidentAt { rssKb: number; anonKb: number; fileKb: number; hwmKb: number }

export function parseStatus(text: string): ResidentAt | undefined {
  const kb = (k: string) => { const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text); return m ? Number(m[1]) : NaN; };
  const r = { rssKb: kb('VmRSS'), anonKb: kb('RssAnon'), fileKb: kb('RssFile'), hwmKb: kb('VmHWM') };
  return Object.values(r).some(Number.isNaN) ? undefined : r;
}

export function residentNow(): ResidentAt | undefined {
  try {
    return parseStatus(readFileSync('/proc/self/status', 'latin1'));
  } catch {
    return undefined; // no /proc: the trace line says "-" for this mark
  }
}

/** `<mark> rss/anon/file/hwm` (kB), as the `startup-memory:` line carries each mark. */
export function formatResident(mark: string, r: ResidentAt | undefined): string {
  return r ? `${mark} ${r.rssKb}/${r.anonKb}/${r.fileKb}/${r.hwmKb}` : `${mark} -`;
}

/** The `startup-memory:` line back into marks (what the benchmark reads). */
export function parseStartupMemory(line: string): Record<string, ResidentAt> {
  const out: Record<string, ResidentAt> = {};
  for (const kv of line.split(', ')) {
    const m = /^(\S+) (\d+)\/(\d+)\/(\d+)\/(\d+)$/.exec(kv.trim());
    if (m) out[m[1]!] = { rssKb: Number(m[2]), anonKb: Number(m[3]), fileKb: Number(m[4]), hwmKb: Number(m[5]) };
  }
  return out;
}
