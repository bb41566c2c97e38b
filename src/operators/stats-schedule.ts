// The report schedule of the statistics operators (process, cgroup, ebpf `emitstats`), as upstream runs them:
// one silent sample at start (the base for deltas), one report after `first-interval` when it is set, then one
// per `interval`; after `count` interval reports (0: no limit) the gadget is done.
import type { GadgetContext } from '../gadget/context.js';
import { parseDuration } from '../gadget/params.js';

export interface StatsSchedule { intervalMs: number; firstIntervalMs: number; count: number }

/** Read interval / first-interval / count from an `operator.<name>` section; `defaultIntervalMs` when unset. */
export function scheduleOf(cfg: Record<string, unknown>, what: string, defaultIntervalMs: number): StatsSchedule {
  const dur = (k: string, def: number): number => {
    const v = cfg[k];
    if (v === undefined || v === null || String(v).trim() === '') return def;
    let ms: number;
    try { ms = parseDuration(String(v)); } catch { throw new Error(`${what}: ${k} "${String(v)}" is not a duration (e.g. 500ms, 3s)`); }
    if (ms > 2 ** 31 - 1) throw new Error(`${what}: ${k} ${String(v)} is too long (at most about 24 days)`);
    return ms;
  };
  const intervalMs = dur('interval', defaultIntervalMs) || defaultIntervalMs;
  if (intervalMs < 10) throw new Error(`${what}: interval ${String(cfg['interval'])} is too short (at least 10ms)`);
  const rawCount = cfg['count'];
  const c = rawCount === undefined || rawCount === null || String(rawCount).trim() === '' ? '0' : String(rawCount).trim();
  if (!/^\d+$/.test(c)) throw new Error(`${what}: count "${c}" is not a whole number`);
  return { intervalMs, firstIntervalMs: dur('first-interval', 0), count: Number(c) };
}

/**
 * Run `sample(emit)` on the schedule until the run ends; a sample that throws ends the run with that error.
 * Returns a stop function (idempotent).
 */
export function runSchedule(ctx: GadgetContext, s: StatsSchedule, sample: (emit: boolean) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let reports = 0;
  let stopped = false;
  const step = (emit: boolean): boolean => {
    if (stopped) return false;
    try { sample(emit); } catch (e) { ctx.fail(e as Error); return false; }
    return true;
  };
  const tick = () => {
    if (!step(true)) return;
    reports++;
    if (s.count > 0 && reports >= s.count) { ctx.done('count reached'); return; }
    timer = setTimeout(tick, s.intervalMs);
  };
  if (step(false)) {
    timer = s.firstIntervalMs > 0
      ? setTimeout(() => { if (step(true)) timer = setTimeout(tick, s.intervalMs); }, s.firstIntervalMs)
      : setTimeout(tick, s.intervalMs);
  }
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}
