// The cgroup operator's statistics (gadget.yaml `operator.cgroup.emitstats: true`, upstream's top_cpu_throttle):
// every `interval`, one row per cgroup that holds a process and has a CPU bandwidth limit (v2 `cpu.max` quota not
// "max"; v1 `cpu.cfs_quota_us` not -1 where the cpu controller is on a v1 hierarchy): throttling since the previous report from `cpu.stat`, the limit, and the PSI "some" averages from
// `cpu.pressure`. Rows where nothing happened (no period elapsed, nothing throttled) are left out, as upstream.
// Field names, kinds and units are upstream's (pkg/operators/cgroup): durations in ns with `type:gadget_duration`.
import * as fs from 'node:fs';
import type { GadgetContext } from '../../gadget/context.js';
import type { OperatorInstance } from '../../gadget/operator.js';
import { Batch, Kind, type DataSource } from '../../datasource/index.js';
import { humanDuration } from '../../format/index.js';
import { runSchedule, scheduleOf } from '../stats-schedule.js';
import { replayStats, statsEmitter } from '../stats-record.js';

const hostRoot = process.env['HOST_ROOT'] ?? '';
const hostProc = `${hostRoot}/proc`;

interface CpuStat { nrPeriods: number; nrThrottled: number; throttledUsec: number }
interface Cgroup { path: string; stat: CpuStat; quotaUs: number; periodUs: number; psi10: number; psi60: number; psi: boolean; mntns: bigint }

/** Where the cgroup v2 hierarchy and the v1 `cpu` controller are mounted (from /proc/self/mountinfo). */
export function cgroupMounts(): { v2?: string; v1cpu?: string } {
  const out: { v2?: string; v1cpu?: string } = {};
  try {
    for (const line of fs.readFileSync(`${hostProc}/self/mountinfo`, 'utf8').split('\n')) {
      const sep = line.indexOf(' - ');
      if (sep < 0) continue;
      const [fstype, , opts] = line.slice(sep + 3).split(' ');
      const mnt = `${hostRoot}${line.split(' ')[4]}`;
      if (fstype === 'cgroup2') out.v2 ??= mnt;
      else if (fstype === 'cgroup' && (opts ?? '').split(',').includes('cpu')) out.v1cpu ??= mnt;
    }
  } catch { /* no mountinfo: the usual place of a unified hierarchy */ }
  if (!out.v2 && !out.v1cpu) out.v2 = `${hostRoot}/sys/fs/cgroup`;
  return out;
}

function kv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of text.split('\n')) { const [k, v] = l.trim().split(/\s+/); if (k && v !== undefined) m.set(k, v); }
  return m;
}

function mntnsOf(pid: number): bigint {
  try { return BigInt(/\[(\d+)\]/.exec(fs.readlinkSync(`${hostProc}/${pid}/ns/mnt`))?.[1] ?? '0'); } catch { return 0n; }
}

const read = (p: string) => fs.readFileSync(p, 'utf8');

/** A limited cgroup v2 (cpu.max with a quota), or undefined. */
function readV2(dir: string): Omit<Cgroup, 'path' | 'mntns'> | undefined {
  let max: string; let stat: Map<string, string>;
  try { max = read(`${dir}/cpu.max`).trim(); stat = kv(read(`${dir}/cpu.stat`)); } catch { return undefined; } // root: no cpu.max
  const [q, p] = max.split(/\s+/);
  if (q === 'max' || q === undefined) return undefined;
  let psi10 = 0; let psi60 = 0; let psi = false;
  try {
    const some = read(`${dir}/cpu.pressure`).split('\n').find((l) => l.startsWith('some '));
    const m = some && /avg10=([\d.]+) avg60=([\d.]+)/.exec(some);
    if (m) { psi10 = Number(m[1]); psi60 = Number(m[2]); psi = true; }
  } catch { /* no PSI (CONFIG_PSI off or psi=0): the columns stay 0, as upstream */ }
  return { quotaUs: Number(q), periodUs: Number(p ?? 100000), psi10, psi60, psi,
    stat: { nrPeriods: Number(stat.get('nr_periods') ?? 0), nrThrottled: Number(stat.get('nr_throttled') ?? 0), throttledUsec: Number(stat.get('throttled_usec') ?? 0) } };
}

/** A limited cgroup v1 `cpu` group (cpu.cfs_quota_us not -1), or undefined. v1 has no PSI; throttled_time is ns. */
function readV1(dir: string): Omit<Cgroup, 'path' | 'mntns'> | undefined {
  let q: number; let p: number; let stat: Map<string, string>;
  try { q = Number(read(`${dir}/cpu.cfs_quota_us`).trim()); p = Number(read(`${dir}/cpu.cfs_period_us`).trim()); stat = kv(read(`${dir}/cpu.stat`)); } catch { return undefined; }
  if (!(q > 0)) return undefined;
  return { quotaUs: q, periodUs: p, psi10: 0, psi60: 0, psi: false,
    stat: { nrPeriods: Number(stat.get('nr_periods') ?? 0), nrThrottled: Number(stat.get('nr_throttled') ?? 0), throttledUsec: Math.floor(Number(stat.get('throttled_time') ?? 0) / 1000) } };
}

/**
 * Every limited cgroup that holds a process, with one of its processes' mount namespace. Upstream reads cgroup v2
 * only; where the `cpu` controller is bound to a v1 hierarchy (hybrid systems, like this project's test machine)
 * cgroup v2 has no cpu.max, so the v1 group's cfs quota and cpu.stat are read instead.
 */
export function discoverCgroups(mounts = cgroupMounts()): Cgroup[] {
  const v2Paths = new Map<string, number>();
  const v1Paths = new Map<string, number>();
  for (const e of fs.readdirSync(hostProc)) {
    if (!/^\d+$/.test(e)) continue;
    let text: string;
    try { text = read(`${hostProc}/${e}/cgroup`); } catch { continue; } // exited meanwhile
    for (const l of text.split('\n')) {
      const [, ctrls, path] = /^\d+:([^:]*):(.*)$/.exec(l) ?? [];
      if (path === undefined) continue;
      if (ctrls === '' && !v2Paths.has(path)) v2Paths.set(path, Number(e));
      else if (ctrls !== undefined && ctrls.split(',').includes('cpu') && !v1Paths.has(path)) v1Paths.set(path, Number(e));
    }
  }
  const out: Cgroup[] = [];
  const sub = (root: string, path: string) => `${root}${path === '/' ? '' : path}`;
  if (mounts.v2) for (const [path, pid] of v2Paths) { const c = readV2(sub(mounts.v2, path)); if (c) out.push({ ...c, path, mntns: mntnsOf(pid) }); }
  if (mounts.v1cpu) for (const [path, pid] of v1Paths) { const c = readV1(sub(mounts.v1cpu, path)); if (c) out.push({ ...c, path, mntns: mntnsOf(pid) }); }
  return out;
}

export function cgroupStatsOperator(ctx: GadgetContext, config: () => Record<string, unknown>): OperatorInstance {
  const ds: DataSource = ctx.addDataSource('cgroups', 'array');
  const right = { 'columns.alignment': 'right' };
  const add = (name: string, kind: number, annotations: Record<string, string>, tags: string[] = []) => ds.addField({ name, kind, annotations, tags });
  const f = {
    path: add('cgroupPath', Kind.String, { description: 'The cgroup v2 path.', 'columns.maxwidth': '60', 'columns.ellipsis': 'start' }),
    periods: add('nrPeriods', Kind.Uint64, { ...right, 'columns.maxwidth': '10', description: 'CFS enforcement intervals elapsed in this reporting period.' }),
    throttled: add('nrThrottled', Kind.Uint64, { ...right, 'columns.maxwidth': '12', description: 'Times the cgroup was throttled in this reporting period.' }),
    time: add('throttledTime_raw', Kind.Uint64, { ...right, 'columns.maxwidth': '14', description: 'Time spent throttled in this reporting period.' }, ['type:gadget_duration']),
    ratio: add('throttleRatio', Kind.Float64, { ...right, 'columns.precision': '2', 'columns.maxwidth': '8', description: 'Percentage of periods in which the cgroup was throttled (0-100).' }),
    quota: add('cpuQuota_raw', Kind.Uint64, { ...right, 'columns.maxwidth': '10', description: 'CPU quota per CFS period.' }, ['type:gadget_duration']),
    period: add('cpuPeriod_raw', Kind.Uint64, { ...right, 'columns.maxwidth': '10', 'columns.hidden': 'true', description: 'CFS period length.' }, ['type:gadget_duration']),
    // The text of the period stays hidden like its raw value (the formatters would add a shown one).
    periodText: add('cpuPeriod', Kind.String, { ...right, 'columns.maxwidth': '10', 'columns.hidden': 'true', template: 'duration', description: 'CFS period length.' }),
    limit: add('cpuLimitCores', Kind.Float64, { ...right, 'columns.precision': '2', 'columns.maxwidth': '8', description: 'Effective CPU core limit (quota / period).' }),
    psi10: add('psiSomeAvg10', Kind.Float64, { ...right, 'columns.precision': '2', 'columns.maxwidth': '8', description: "PSI 'some' CPU pressure average over 10 seconds." }),
    psi60: add('psiSomeAvg60', Kind.Float64, { ...right, 'columns.precision': '2', 'columns.maxwidth': '8', description: "PSI 'some' CPU pressure average over 60 seconds." }),
    mntns: add('mountnsid', Kind.Uint64, { template: 'mntns_id' }, ['type:gadget_mntns_id']),
  };
  const mounts = cgroupMounts();
  let prev = new Map<string, CpuStat>();
  let stop: (() => void) | undefined;
  let stopReplay: (() => Promise<void>) | undefined;
  const emitBatch = statsEmitter(ctx, ds, Object.values(f));
  const sample = (emit: boolean) => {
    const cgs = discoverCgroups(mounts);
    const before = prev;
    prev = new Map(cgs.map((c) => [c.path, c.stat]));
    if (!emit) return;
    const rows: { c: Cgroup; periods: number; throttled: number; usec: number }[] = [];
    for (const c of cgs) {
      const p = before.get(c.path);
      if (!p) continue; // new since the last report: no delta yet
      const d = (a: number, b: number) => (a >= b ? a - b : 0);
      const periods = d(c.stat.nrPeriods, p.nrPeriods);
      const throttled = d(c.stat.nrThrottled, p.nrThrottled);
      if (periods === 0 && throttled === 0) continue;
      rows.push({ c, periods, throttled, usec: d(c.stat.throttledUsec, p.throttledUsec) });
    }
    const b = Batch.empty(ds, rows.length);
    rows.forEach(({ c, periods, throttled, usec }, i) => {
      f.path.set(b, i, c.path);
      f.periods.set(b, i, periods);
      f.throttled.set(b, i, throttled);
      f.time.set(b, i, usec * 1000);
      f.ratio.set(b, i, periods > 0 ? (throttled / periods) * 100 : 0);
      f.quota.set(b, i, c.quotaUs * 1000);
      f.period.set(b, i, c.periodUs * 1000);
      f.periodText.set(b, i, humanDuration(c.periodUs * 1000));
      f.limit.set(b, i, c.quotaUs > 0 && c.periodUs > 0 ? c.quotaUs / c.periodUs : 0);
      f.psi10.set(b, i, c.psi10);
      f.psi60.set(b, i, c.psi60);
      f.mntns.set(b, i, c.mntns);
    });
    emitBatch(b);
  };
  return {
    name: 'cgroup',
    start: () => {
      const s = scheduleOf(config(), 'operator.cgroup', 60_000);
      ds.annotations.set('fetch-interval', `${s.intervalMs}ms`);
      // A replay emits the recorded reports (stats-record.ts) instead of reading this machine's cgroups.
      if (ctx.replay) stopReplay = replayStats(ctx, ds);
      else stop = runSchedule(ctx, s, sample);
    },
    stop: async () => { stop?.(); await stopReplay?.(); },
  };
}
