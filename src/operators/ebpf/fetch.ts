// Fetch schedules of map iterators (--map-fetch-interval / --map-fetch-count, ig-spec §3.1) and snapshots
// (data-source annotations fetch-interval / fetch-count).
//
// Values are global ("1s") or per data source ("file:500ms,tcp:2s"; a bare value applies to the rest).
// Map iterators:
//   interval > 0: fetch every interval; with count > 0, stop fetching after `count` fetches (the gadget ends
//                 once every map iterator is done); otherwise `ebpf.map.flush-on-stop` adds a last fetch at stop;
//   interval 0:   no periodic fetch: the map is fetched once, when the gadget stops (a flight recorder or a
//                 profiler that reports at the end). A count above 1 makes no sense with it and is an error.
// Timers cannot wait more than 2^31-1 ms (about 24.8 days); longer intervals are rejected.
import { parseDuration } from '../../gadget/params.js';

export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface FetchPlan { intervalMs: number; count: number }

/** Split "a,ds:b,..." into a default and per-DS values; names must be among `names`. */
export function perDs(value: string, names: string[], what: string): { def?: string; per: Map<string, string> } {
  const per = new Map<string, string>();
  let def: string | undefined;
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const c = raw.lastIndexOf(':');
    if (c < 0) { def = raw; continue; }
    const ds = raw.slice(0, c);
    if (!names.includes(ds)) throw new Error(`${what}: no map iterator data source "${ds}" (have: ${names.join(', ') || 'none'})`);
    per.set(ds, raw.slice(c + 1));
  }
  return { def, per };
}

export function parseInterval(v: string, what: string): number {
  let ms: number;
  try { ms = parseDuration(v); } catch { throw new Error(`${what}: invalid duration "${v}" (expected e.g. 500ms, 2s, 0)`); }
  if (ms > MAX_TIMER_MS) throw new Error(`${what}: ${v} is too long: the longest interval is ${MAX_TIMER_MS} ms (about 24 days); use 0 to fetch only when the gadget stops`);
  if (ms > 0 && ms < 1) throw new Error(`${what}: ${v} is too short: the shortest interval is 1ms`);
  return ms;
}

export function parseCount(v: string, what: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) > 2 ** 32 - 1) throw new Error(`${what}: invalid count "${v}" (expected an integer from 0 to 4294967295)`);
  return Number(v);
}

/** Validation for the param descriptions (shape only; data source names are checked at start). */
export function validateIntervalList(v: string): string | undefined {
  try {
    for (const p of v.split(',').map((s) => s.trim()).filter(Boolean)) parseInterval(p.includes(':') ? p.slice(p.lastIndexOf(':') + 1) : p, '--map-fetch-interval');
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^--map-fetch-interval: /, '');
  }
}

export function validateCountList(v: string): string | undefined {
  try {
    for (const p of v.split(',').map((s) => s.trim()).filter(Boolean)) parseCount(p.includes(':') ? p.slice(p.lastIndexOf(':') + 1) : p, '--map-fetch-count');
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^--map-fetch-count: /, '');
  }
}

/** Plans of every map iterator data source from the two param values. */
export function mapFetchPlans(intervals: string, counts: string, names: string[]): Map<string, FetchPlan> {
  const iv = perDs(intervals, names, '--map-fetch-interval');
  const ct = perDs(counts, names, '--map-fetch-count');
  const out = new Map<string, FetchPlan>();
  for (const n of names) {
    const intervalMs = parseInterval(iv.per.get(n) ?? iv.def ?? '1000ms', '--map-fetch-interval');
    const count = parseCount(ct.per.get(n) ?? ct.def ?? '0', '--map-fetch-count');
    if (intervalMs === 0 && count > 1) {
      throw new Error(`--map-fetch-interval 0 (fetch once, when the gadget stops) cannot be combined with --map-fetch-count ${count}${names.length > 1 ? ` for ${n}` : ''}`);
    }
    out.set(n, { intervalMs, count });
  }
  return out;
}
