// The process operator's statistics (gadget.yaml `operator.process.emitstats: true`, upstream's top_process):
// every `interval`, one array of every process on the host read from /proc — CPU use since the previous sample,
// memory, threads, state, owner, start time and mount namespace (so container enrichment and -c apply).
//
// Field names, kinds and the report schedule are upstream's (pkg/operators/process); `operator.process.fields`
// picks a subset. CPU use = clock ticks of utime+stime since the last sample / ticks per second / seconds elapsed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { GadgetContext } from '../../gadget/context.js';
import type { OperatorInstance } from '../../gadget/operator.js';
import { Batch, Kind, type DataSource, type Field } from '../../datasource/index.js';
import { runSchedule, scheduleOf } from '../stats-schedule.js';
import { replayStats, statsEmitter } from '../stats-record.js';

const hostProc = `${process.env['HOST_ROOT'] ?? ''}/proc`;
/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks; 100 on every Linux ABI ig runs on. */
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;
const ALL_FIELDS = ['pid', 'ppid', 'comm', 'priority', 'nice', 'cpuUsage', 'cpuUsageRelative', 'memoryRSS', 'memoryVirtual',
  'memoryShared', 'memoryRelative', 'threadCount', 'state', 'uid', 'startTime', 'cpuTime'];

interface Proc {
  pid: number; ppid: number; comm: string; state: string; priority: number; nice: number; threads: number;
  cpuTicks: number; startTicks: number; vsize: number; rss: number; shared: number; uid: number; mntns: bigint;
}

function readProc(pid: number): Proc | undefined {
  let stat: string;
  let statm: string;
  let status: string;
  try {
    stat = fs.readFileSync(`${hostProc}/${pid}/stat`, 'latin1');
    statm = fs.readFileSync(`${hostProc}/${pid}/statm`, 'latin1');
    status = fs.readFileSync(`${hostProc}/${pid}/status`, 'latin1');
  } catch {
    return undefined; // the process exited while we read it: not in this report
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  // fields after the comm, numbered from 3 (state) as in proc(5)
  const f = stat.slice(close + 2).split(' ');
  const n = (k: number) => Number(f[k - 3] ?? 0);
  const m = statm.split(' ');
  const uidLine = /^Uid:\s+(\d+)/m.exec(status);
  let mntns = 0n;
  try {
    const l = fs.readlinkSync(`${hostProc}/${pid}/ns/mnt`);
    mntns = BigInt(/\[(\d+)\]/.exec(l)?.[1] ?? '0');
  } catch { /* kernel threads and exited processes have no namespace link: 0, as upstream */ }
  return {
    pid, comm: stat.slice(open + 1, close), state: f[0] ?? '', ppid: n(4), cpuTicks: n(14) + n(15), priority: n(18), nice: n(19),
    threads: n(20), startTicks: n(22), vsize: n(23), rss: Number(m[1] ?? 0) * PAGE_SIZE, shared: Number(m[2] ?? 0) * PAGE_SIZE,
    uid: uidLine ? Number(uidLine[1]) : 0, mntns,
  };
}

function bootTimeMs(): number {
  try {
    const m = /^btime (\d+)$/m.exec(fs.readFileSync(`${hostProc}/stat`, 'latin1'));
    if (m) return Number(m[1]) * 1000;
  } catch { /* no /proc/stat: fall back to now minus uptime below */ }
  return Date.now() - os.uptime() * 1000;
}

function pad(n: number, w: number): string { return String(n).padStart(w, '0'); }

/** Upstream's cpuTimeStr: minutes:seconds.milliseconds of the total CPU time. */
export function cpuTimeText(ticks: number): string {
  const ms = Math.floor(ticks * (1000 / TICKS_PER_SECOND));
  return `${Math.floor(ms / 60000)}:${pad(Math.floor(ms / 1000) % 60, 2)}.${pad(ms % 1000, 3)}`;
}

/** RFC 3339 in UTC, seconds precision (Go's time.RFC3339). */
function rfc3339(ms: number): string { return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z'); }

export function processStatsOperator(ctx: GadgetContext, config: () => Record<string, unknown>): OperatorInstance {
  const cfg0 = config();
  const listed = Array.isArray(cfg0['fields']) ? (cfg0['fields'] as unknown[]).map(String) : [];
  const want = new Set(listed.length ? listed : ALL_FIELDS);
  const ds: DataSource = ctx.addDataSource('processes', 'array');
  const add = (name: string, kind: number, annotations: Record<string, string>, tags: string[] = []): Field =>
    ds.addField({ name, kind, annotations, tags });
  const right = { 'columns.alignment': 'right' };
  const f = {
    pid: add('pid', Kind.Int32, { template: 'pid' }),
    ppid: want.has('ppid') ? add('ppid', Kind.Int32, { template: 'ppid' }) : undefined,
    comm: want.has('comm') ? add('comm', Kind.String, { template: 'comm' }) : undefined,
    priority: want.has('priority') ? add('priority', Kind.Int8, { ...right, description: 'The priority of the process.' }) : undefined,
    nice: want.has('nice') ? add('nice', Kind.Int8, { ...right, description: 'The nice value of the process.' }) : undefined,
    cpuTime: want.has('cpuTime') ? add('cpuTime', Kind.Int64, { 'columns.hidden': 'true', description: 'Total CPU time' }) : undefined,
    cpuTimeStr: want.has('cpuTime') ? add('cpuTimeStr', Kind.String, { ...right, 'columns.maxwidth': '12', description: 'Total CPU time, formatted as duration' }) : undefined,
    cpu: want.has('cpuUsage') ? add('cpuUsage', Kind.Float64, { ...right, 'columns.precision': '1', 'columns.maxwidth': '8', description: 'The CPU usage of the process as a percentage.' }) : undefined,
    cpuRel: want.has('cpuUsageRelative') ? add('cpuUsageRelative', Kind.Float64, { ...right, 'columns.precision': '1', 'columns.maxwidth': '8', description: 'The CPU usage percentage relative to the number of CPUs available.' }) : undefined,
    rss: want.has('memoryRSS') ? add('memoryRSS_raw', Kind.Uint64, { ...right, description: 'Resident set size of the process in bytes.' }, ['type:gadget_bytes']) : undefined,
    vsz: want.has('memoryVirtual') ? add('memoryVirtual_raw', Kind.Uint64, { ...right, description: 'Virtual memory size of the process in bytes.' }, ['type:gadget_bytes']) : undefined,
    shr: want.has('memoryShared') ? add('memoryShared_raw', Kind.Uint64, { ...right, description: 'Shared memory of the process in bytes.' }, ['type:gadget_bytes']) : undefined,
    memRel: want.has('memoryRelative') ? add('memoryRelative', Kind.Float64, { ...right, 'columns.precision': '1', 'columns.maxwidth': '8', description: 'RSS as a percentage of the total memory.' }) : undefined,
    threads: want.has('threadCount') ? add('threadCount', Kind.Int32, { ...right, 'columns.maxwidth': '11', description: 'The number of threads of the process.' }) : undefined,
    state: want.has('state') ? add('state', Kind.String, { 'columns.maxwidth': '5', 'value.one-of': 'R,S,D,Z,T,t,W,X,x,K,W,P,I', description: 'Process state (R running, S sleeping, D disk sleep, Z zombie, ...).' }) : undefined,
    uid: want.has('uid') ? add('uid', Kind.Uint32, { template: 'uid' }) : undefined,
    start: want.has('startTime') || want.has('startTimeStr') ? add('startTime', Kind.Uint64, { 'columns.hidden': 'true', description: 'Start time in clock ticks after boot.' }) : undefined,
    startStr: want.has('startTime') || want.has('startTimeStr') ? add('startTimeStr', Kind.String, { 'columns.ellipsis': 'start', 'columns.maxwidth': '25', description: 'Start time (RFC 3339).' }) : undefined,
    mntns: add('mountnsid', Kind.Uint64, { template: 'mntns_id' }, ['type:gadget_mntns_id']),
  };
  const wantsCpu = !!(f.cpu || f.cpuRel);
  let last = new Map<number, number>();
  let lastAt = 0;
  let stop: (() => void) | undefined;
  let stopReplay: (() => Promise<void>) | undefined;
  const boot = bootTimeMs();
  const emitBatch = statsEmitter(ctx, ds, Object.values(f).filter((x): x is Field => x !== undefined));

  const sample = (emit: boolean) => {
    const now = performance.now();
    const seconds = (now - lastAt) / 1000;
    lastAt = now;
    const cpus = os.cpus().length || 1;
    const totalMem = os.totalmem();
    const procs: Proc[] = [];
    for (const e of fs.readdirSync(hostProc)) {
      if (!/^\d+$/.test(e)) continue;
      const p = readProc(Number(e));
      if (p) procs.push(p);
    }
    const prev = last;
    last = new Map(procs.map((p) => [p.pid, p.cpuTicks]));
    if (!emit) return;
    const b = Batch.empty(ds, procs.length);
    procs.forEach((p, i) => {
      f.pid.set(b, i, p.pid);
      f.ppid?.set(b, i, p.ppid);
      f.comm?.set(b, i, p.comm);
      f.priority?.set(b, i, p.priority);
      f.nice?.set(b, i, p.nice);
      if (wantsCpu) {
        const before = prev.get(p.pid);
        // a process born since the last sample: everything it used is new
        const ticks = p.cpuTicks - (before ?? 0);
        const usage = seconds > 0 && ticks > 0 ? (ticks / TICKS_PER_SECOND / seconds) * 100 : 0;
        f.cpu?.set(b, i, usage);
        f.cpuRel?.set(b, i, usage / cpus);
      }
      f.cpuTime?.set(b, i, p.cpuTicks);
      f.cpuTimeStr?.set(b, i, cpuTimeText(p.cpuTicks));
      f.rss?.set(b, i, p.rss);
      f.vsz?.set(b, i, p.vsize);
      f.shr?.set(b, i, p.shared);
      f.memRel?.set(b, i, totalMem > 0 ? (p.rss / totalMem) * 100 : 0);
      f.threads?.set(b, i, p.threads);
      f.state?.set(b, i, p.state);
      f.uid?.set(b, i, p.uid);
      f.start?.set(b, i, p.startTicks);
      f.startStr?.set(b, i, rfc3339(boot + (p.startTicks * 1000) / TICKS_PER_SECOND));
      f.mntns.set(b, i, p.mntns);
    });
    emitBatch(b);
  };

  return {
    name: 'process',
    start: () => {
      const s = scheduleOf(config(), 'operator.process', 60_000);
      ds.annotations.set('fetch-interval', `${s.intervalMs}ms`);
      // A replay emits the recorded reports (stats-record.ts) instead of reading this machine's /proc.
      if (ctx.replay) stopReplay = replayStats(ctx, ds);
      else stop = runSchedule(ctx, s, sample);
    },
    stop: async () => { stop?.(); await stopReplay?.(); },
  };
}
