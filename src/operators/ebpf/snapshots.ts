// Snapshots without BPF iterators (include/gadget/snapshot.h): the programs named by GADGET_SNAPSHOTTER /
// GADGET_ITER are `SEC("raw_tp")` programs that are never attached. Each fetch runs them once with
// BPF_PROG_TEST_RUN (in ig's own task, so they walk kernel lists from there), then drains the ring buffer
// `gadget_snapshot_buf` synchronously: every sample is one record, and all of them form one array batch.
import type { BpfObject } from '../../bpf/object.js';
import { drainRing } from '../../bpf/reader.js';
import type { DataSource } from '../../datasource/index.js';
import { GadgetError, type GadgetContext } from '../../gadget/context.js';
import { batchFromRing } from './records.js';
import { parseCount, parseInterval } from './fetch.js';
import { readPerCpuCounter } from './counters.js';
import { emitBatch } from './record-tap.js';

export const SNAPSHOT_RING = 'gadget_snapshot_buf';
const ON_DEMAND_SECTIONS = new Set(['raw_tp', 'raw_tracepoint']);

export interface SnapshotDs {
  ds: DataSource;
  programs: string[];
  intervalMs: number;
  count: number;
  fetchOnStop: boolean;
  fetches: number;
  lostSeen: bigint;
}

/** Check the programs of a snapshotter: all on-demand raw tracepoints, or a one-line reason why not. */
export function checkSnapshotPrograms(gadget: string, name: string, programs: string[], sections: Map<string, string>): void {
  for (const p of programs) {
    const sec = sections.get(p);
    if (sec === undefined) throw new GadgetError(`gadget ${gadget}: snapshotter ${name}: program ${p} is not in the eBPF object`);
    if (sec.startsWith('iter/') || sec === 'iter') {
      throw new GadgetError(`gadget ${gadget}: snapshotter ${name}: program ${p} is a BPF iterator (${sec}), which this kernel does not support; use an on-demand SEC("raw_tp") program (include/gadget/snapshot.h)`);
    }
    if (!ON_DEMAND_SECTIONS.has(sec)) {
      throw new GadgetError(`gadget ${gadget}: snapshotter ${name}: program ${p} has section "${sec}"; snapshot programs must be SEC("raw_tp") (run on demand) or iter/* (BPF iterators)`);
    }
  }
}

/** Run the snapshot programs and return the records they wrote, as one batch. */
export function takeSnapshot(obj: BpfObject, s: SnapshotDs): { batch: ReturnType<typeof batchFromRing>; dropped: number } {
  const ring = obj.map(SNAPSHOT_RING);
  // Anything left over (a failed earlier run) must not leak into this snapshot.
  drainRing(ring);
  for (const p of s.programs) {
    try {
      obj.testRun(p);
    } catch (e) {
      throw new GadgetError(`snapshot ${s.ds.name}: running program ${p} failed: ${(e as Error).message}`);
    }
  }
  const d = drainRing(ring);
  return { batch: batchFromRing(s.ds, d.buf, d.count), dropped: d.dropped };
}

/** The snapshotter part of the eBPF operator: data sources filled by running programs on demand. */
export class Snapshots {
  readonly list: SnapshotDs[] = [];
  private timers: NodeJS.Timeout[] = [];
  private immediates: NodeJS.Immediate[] = [];
  private obj?: BpfObject;

  constructor(private readonly ctx: GadgetContext) {}

  /** A data source of `GADGET_SNAPSHOTTER` records; fetch-interval / fetch-count come from its annotations. */
  add(ds: DataSource, programs: string[]): void {
    const a = (k: string) => ds.annotations.get(k);
    const what = `gadget ${this.ctx.name}: data source ${ds.name}`;
    let intervalMs: number;
    let count: number;
    try {
      intervalMs = parseInterval(a('fetch-interval') ?? '0', `${what}: fetch-interval`);
      count = parseCount(a('fetch-count') ?? '1', `${what}: fetch-count`);
    } catch (e) { throw new GadgetError((e as Error).message); }
    this.list.push({ ds, programs, intervalMs, count, fetchOnStop: a('ebpf.iter.fetch-on-stop') === 'true', fetches: 0, lostSeen: 0n });
  }

  /** Check the programs (before load); returns the ones that run on demand and must not be attached. */
  onDemand(sections: Map<string, string>): Set<string> {
    const out = new Set<string>();
    for (const s of this.list) {
      checkSnapshotPrograms(this.ctx.name, s.ds.name, s.programs, sections);
      for (const p of s.programs) out.add(p);
    }
    return out;
  }

  /** Start fetching; `onlySnapshots`: nothing else produces records, so the gadget is done when these are. */
  start(obj: BpfObject, onlySnapshots: boolean): void {
    if (this.list.length === 0) return;
    this.obj = obj;
    const ctx = this.ctx;
    const finite = this.list.filter((s) => s.count > 0);
    const run = (s: SnapshotDs): boolean => {
      try {
        const { batch, dropped } = takeSnapshot(obj, s);
        s.fetches++;
        emitBatch(ctx, s.ds, batch);
        if (dropped > 0) s.ds.reportLost(dropped, 'snapshot larger than the drain limit');
        this.pollLost(s);
        return true;
      } catch (e) {
        ctx.log.error(`${s.ds.name}: ${(e as Error).message}`);
        ctx.done('error');
        return false;
      }
    };
    const finished = (s: SnapshotDs) => s.count > 0 && s.fetches >= s.count;
    const maybeDone = () => { if (onlySnapshots && finite.length === this.list.length && this.list.every(finished)) ctx.done('snapshot'); };
    for (const s of this.list) {
      // The first fetch waits for the other operators' start (enrichers) to have run.
      const first = setImmediate(() => {
        if (!this.obj || ctx.signal.aborted) return;
        if (!run(s)) return;
        if (finished(s)) { maybeDone(); return; }
        if (s.intervalMs === 0) return;
        const timer = setInterval(() => {
          if (!run(s)) return;
          if (finished(s)) { clearInterval(timer); maybeDone(); }
        }, s.intervalMs);
        this.timers.push(timer);
      });
      this.immediates.push(first);
    }
  }

  private pollLost(s: SnapshotDs): void {
    const m = this.obj?.findMap(`${SNAPSHOT_RING}_lost_samples`);
    if (!m) return;
    const sum = readPerCpuCounter(m);
    if (sum > s.lostSeen) {
      s.ds.reportLost(Number(sum - s.lostSeen), 'snapshot ring buffer full');
      s.lostSeen = sum;
    }
  }

  /** Stop the timers (the object is still loaded). */
  stopTimers(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const t of this.immediates.splice(0)) clearImmediate(t);
  }

  /** The final fetch of the data sources that ask for one; then forget the object. */
  finish(): void {
    const obj = this.obj;
    this.obj = undefined;
    if (!obj) return;
    for (const s of this.list) {
      if (!s.fetchOnStop) continue;
      try {
        emitBatch(this.ctx, s.ds, takeSnapshot(obj, s).batch);
      } catch (e) { this.ctx.log.warn(`${s.ds.name}: final fetch failed: ${(e as Error).message}`); }
    }
  }
}
