// The ebpf operator's statistics (gadget.yaml `operator.ebpf.emitstats: true`, upstream's bpfstats): every
// `--statistics-interval`, one row per eBPF program on the machine (or, with `--gadgets-only`, one per gadget
// of this process) with the run time and run count of the interval (BPF_ENABLE_STATS is held while it runs),
// the CPU share that makes, the maps' memory (fdinfo `memlock`) and the processes holding the program.
// Field names and kinds are upstream's (pkg/operators/ebpf/stats.go).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { listPrograms, mapMemlock, progTypeName, RunTimeStats, type ProgramStats } from '../../bpf/prog-stats.js';
import type { GadgetContext } from '../../gadget/context.js';
import type { OperatorInstance } from '../../gadget/operator.js';
import { Batch, Kind, type Field } from '../../datasource/index.js';
import { humanDuration } from '../../format/index.js';
import { runSchedule } from '../stats-schedule.js';
import { replayStats, statsEmitter } from '../stats-record.js';
import { parseInterval } from './fetch.js';
import { runningGadgets } from './running.js';

const P = 'operator.ebpf.';
const hostProc = `${process.env['HOST_ROOT'] ?? ''}/proc`;

interface Row {
  gadgetID: string; gadgetName: string; gadgetImage: string; progID: number; progName: string; progType: string;
  runtime: number; runcount: number; totalRuntime: number; mapMemory: number; mapCount: number; comms: string; pids: string;
}

/** Which processes hold each program (an fd whose fdinfo has `prog_id:`), by program id. */
export function programHolders(): Map<number, { pid: number; comm: string }[]> {
  const out = new Map<number, { pid: number; comm: string }[]>();
  for (const e of fs.readdirSync(hostProc)) {
    if (!/^\d+$/.test(e)) continue;
    let fds: string[];
    try { fds = fs.readdirSync(`${hostProc}/${e}/fd`); } catch { continue; } // exited, or a kernel thread
    let comm: string | undefined;
    const seen = new Set<number>();
    for (const fd of fds) {
      let target: string;
      try { target = fs.readlinkSync(`${hostProc}/${e}/fd/${fd}`); } catch { continue; } // closed meanwhile
      if (target !== 'anon_inode:bpf-prog') continue;
      let info: string;
      try { info = fs.readFileSync(`${hostProc}/${e}/fdinfo/${fd}`, 'latin1'); } catch { continue; }
      const id = Number(/^prog_id:\s*(\d+)/m.exec(info)?.[1] ?? 0);
      if (!id || seen.has(id)) continue;
      seen.add(id);
      if (comm === undefined) { try { comm = fs.readFileSync(`${hostProc}/${e}/comm`, 'latin1').trim(); } catch { comm = ''; } }
      let l = out.get(id);
      if (!l) out.set(id, (l = []));
      l.push({ pid: Number(e), comm });
    }
  }
  return out;
}

export function ebpfStatsOperator(ctx: GadgetContext): OperatorInstance {
  const ds = ctx.addDataSource('bpfstats', 'array');
  ds.annotations.set('cli.clear-screen-before', 'true');
  const right = { 'columns.alignment': 'right' };
  const add = (name: string, kind: number, annotations: Record<string, string>, tags: string[] = []) => ds.addField({ name, kind, annotations, tags });
  const nodeName = process.env['NODE_NAME'];
  const f = {
    node: nodeName !== undefined ? add('nodeName', Kind.String, { template: 'node', 'metrics.type': 'key' }) : undefined,
    gadgetID: add('gadgetID', Kind.String, { 'columns.width': '8', description: 'Unique ID assigned to each Gadget instance' }),
    gadgetName: add('gadgetName', Kind.String, { 'columns.width': '16', description: 'Name of the Gadget instance', 'metrics.type': 'key' }),
    gadgetImage: add('gadgetImage', Kind.String, { 'columns.width': '16', description: 'Name of the Gadget image (like trace_open, trace_exec, etc.)', 'metrics.type': 'key' }),
    progID: add('progID', Kind.Uint32, { ...right, 'columns.width': '5', description: 'eBPF program ID assigned by the Linux kernel' }),
    progName: add('progName', Kind.String, { 'columns.fixed': '16', 'columns.width': '16', description: 'Name of the eBPF program', 'metrics.type': 'key' }),
    progType: add('progType', Kind.String, { 'columns.width': '16', description: 'Type of the eBPF program' }),
    cpu: add('cpuUsage', Kind.Float64, { ...right, 'columns.alias': '%CPU', 'columns.precision': '2', 'columns.width': '8', description: 'CPU usage percentage of the eBPF program' }),
    cpuRel: add('cpuUsageRelative', Kind.Float64, { ...right, 'columns.alias': '%RELCPU', 'columns.precision': '2', 'columns.width': '8', description: 'CPU usage relative to the number of available CPUs' }),
    cpuTimeStr: add('cpuTimeStr', Kind.String, { ...right, 'columns.alias': 'TIME+', 'columns.width': '12', description: 'Total CPU time formatted as duration' }),
    runtime: add('runtime_raw', Kind.Uint64, { ...right, 'columns.width': '12', description: 'Time that the eBPF program or Gadget has run in nanoseconds', 'metrics.type': 'counter' }, ['type:gadget_duration']),
    runcount: add('runcount', Kind.Uint64, { ...right, 'columns.width': '12', description: 'Number of times the eBPF program or Gadget has run', 'metrics.type': 'counter' }),
    mapMemory: add('mapMemory_raw', Kind.Uint64, { ...right, 'columns.width': '12', description: 'Memory used by maps in bytes', 'metrics.type': 'gauge' }, ['type:gadget_bytes']),
    mapCount: add('mapCount', Kind.Uint64, { ...right, 'columns.width': '5', description: 'Number of maps used by the eBPF program or Gadget', 'metrics.type': 'gauge' }),
    comms: add('comms', Kind.String, { 'columns.width': '16', description: 'List of processes using the eBPF program' }),
    pids: add('pids', Kind.String, { 'columns.width': '16', description: 'List of PIDs using the eBPF program' }),
  };
  let stats: RunTimeStats | undefined;
  let stop: (() => void) | undefined;
  let stopReplay: (() => Promise<void>) | undefined;
  let old = new Map<number, { runtime: number; runcount: number }>();

  const collect = (intervalNs: number, gadgetsOnly: boolean): Row[] => {
    const progs = new Map<number, ProgramStats>(listPrograms().map((p) => [p.id, p]));
    const holders = programHolders();
    const memo = new Map<number, number>();
    const mem = (id: number) => { let m = memo.get(id); if (m === undefined) memo.set(id, (m = mapMemlock(id) ?? 0)); return m; };
    const before = old;
    old = new Map([...progs.values()].map((p) => [p.id, { runtime: p.runTimeNs, runcount: p.runCnt }]));
    const delta = (p: ProgramStats) => {
      const o = before.get(p.id);
      return { runtime: Math.max(0, p.runTimeNs - (o?.runtime ?? 0)), runcount: Math.max(0, p.runCnt - (o?.runcount ?? 0)) };
    };
    const who = (ids: number[]) => {
      const hs = ids.flatMap((id) => holders.get(id) ?? []);
      const uniq = [...new Map(hs.map((h) => [h.pid, h])).values()];
      return { comms: uniq.map((h) => h.comm).join(','), pids: uniq.map((h) => String(h.pid)).join(',') };
    };
    const gadgets = runningGadgets();
    if (gadgetsOnly) {
      return gadgets.map((g) => {
        let runtime = 0; let runcount = 0; let totalRuntime = 0;
        const maps = new Set<number>();
        for (const id of g.progIds) {
          const p = progs.get(id);
          if (!p) continue;
          const d = delta(p);
          runtime += d.runtime; runcount += d.runcount; totalRuntime += p.runTimeNs;
          for (const m of p.mapIds) maps.add(m);
        }
        return { gadgetID: g.id, gadgetName: g.name, gadgetImage: g.image, progID: 0, progName: '', progType: '', runtime, runcount, totalRuntime,
          mapMemory: [...maps].reduce((s, m) => s + mem(m), 0), mapCount: maps.size, ...who(g.progIds) };
      });
    }
    const owner = new Map<number, (typeof gadgets)[number]>();
    for (const g of gadgets) for (const id of g.progIds) owner.set(id, g);
    return [...progs.values()].map((p) => {
      const g = owner.get(p.id);
      return { gadgetID: g?.id ?? '', gadgetName: g?.name ?? '', gadgetImage: g?.image ?? '', progID: p.id, progName: p.name, progType: progTypeName(p.type),
        ...delta(p), totalRuntime: p.runTimeNs, mapMemory: p.mapIds.reduce((s, m) => s + mem(m), 0), mapCount: p.mapIds.length, ...who([p.id]) };
    });
  };

  return {
    name: 'ebpf-stats',
    params: () => [
      { key: 'statistics-interval', prefix: P, defaultValue: '1000ms', typeHint: 'duration', description: 'interval in which to provide gadget statistics' },
      { key: 'gadgets-only', prefix: P, defaultValue: 'false', typeHint: 'bool', description: 'Show only gadget-related eBPF programs' },
    ],
    start: () => {
      const intervalMs = parseInterval(ctx.params.get(`${P}statistics-interval`) ?? '1000ms', '--statistics-interval');
      if (intervalMs < 10) throw new Error(`--statistics-interval ${ctx.params.get(`${P}statistics-interval`)}: at least 10ms`);
      const gadgetsOnly = ctx.params.get(`${P}gadgets-only`) === 'true';
      ds.annotations.set('fetch-interval', `${intervalMs}ms`);
      // A replay emits the recorded reports (stats-record.ts): no kernel statistics to switch on or read.
      if (ctx.replay) { stopReplay = replayStats(ctx, ds); return; }
      const emitBatch = statsEmitter(ctx, ds, Object.values(f).filter((x): x is Field => x !== undefined));
      stats = RunTimeStats.enable();
      const cpus = os.cpus().length || 1;
      // No first-interval: the first report comes after one interval, its deltas from the silent first sample.
      stop = runSchedule(ctx, { intervalMs, firstIntervalMs: 0, count: 0 }, (emit) => {
        const rows = collect(intervalMs * 1e6, gadgetsOnly);
        if (!emit) return;
        const b = Batch.empty(ds, rows.length);
        rows.forEach((r, i) => {
          f.node?.set(b, i, nodeName ?? '');
          f.gadgetID.set(b, i, r.gadgetID);
          f.gadgetName.set(b, i, r.gadgetName);
          f.gadgetImage.set(b, i, r.gadgetImage);
          f.progID.set(b, i, r.progID);
          f.progName.set(b, i, r.progName);
          f.progType.set(b, i, r.progType);
          const usage = (r.runtime / (intervalMs * 1e6)) * 100;
          f.cpu.set(b, i, usage);
          f.cpuRel.set(b, i, usage / cpus);
          f.cpuTimeStr.set(b, i, r.totalRuntime === 0 ? '0s' : humanDuration(r.totalRuntime));
          f.runtime.set(b, i, r.runtime);
          f.runcount.set(b, i, r.runcount);
          f.mapMemory.set(b, i, r.mapMemory);
          f.mapCount.set(b, i, r.mapCount);
          f.comms.set(b, i, r.comms);
          f.pids.set(b, i, r.pids);
        });
        emitBatch(b);
      });
    },
    stop: async () => { stop?.(); stats?.close(); stats = undefined; await stopReplay?.(); },
  };
}
