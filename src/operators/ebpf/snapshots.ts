// Snapshotters (GADGET_SNAPSHOTTER / GADGET_ITER): each fetch walks kernel objects and emits what the programs
// wrote as one array batch of `struct <type>` records. Two kinds of program, freely mixed in one snapshotter:
// - BPF iterators, `SEC("iter/<target>")`, as upstream: attached once at start (a BPF_TRACE_ITER link); each fetch
//   opens a new iterator of the link and reads it to EOF; the bytes the program wrote with bpf_seq_write are cut
//   into records of the struct's size (a remainder is an error, as upstream). Network targets (tcp, udp, unix,
//   netlink, ipv6_route) walk the namespace the iterator is opened in: they are read once per network namespace
//   of the run (ig's own when it watches the host, each selected container's). This kernel (6.18) runs the task,
//   task_file, task_vma, tcp, udp, unix, netlink, ipv6_route, bpf_map, bpf_prog, bpf_link, ksym and kmem_cache
//   targets (src/bpf/iter.test.ts probes them; docs/architecture.md lists the facts).
// - On-demand `SEC("raw_tp")` programs (include/gadget/snapshot.h), for kernels without iterators: never
//   attached; each fetch runs them once with BPF_PROG_TEST_RUN (in ig's own task) and drains the ring buffer
//   `gadget_snapshot_buf`, one record per sample.
import { statSync } from 'node:fs';
import type { Link } from '../../bpf/link.js';
import type { BpfObject } from '../../bpf/object.js';
import { drainRing } from '../../bpf/reader.js';
import { Batch, type DataSource } from '../../datasource/index.js';
import { GadgetError, type GadgetContext } from '../../gadget/context.js';
import type { NetnsPath } from '../../gadget/netns.js';
import { batchFromRing } from './records.js';
import { parseCount, parseInterval } from './fetch.js';
import { readPerCpuCounter } from './counters.js';
import { emitBatch } from './record-tap.js';

export const SNAPSHOT_RING = 'gadget_snapshot_buf';
const ON_DEMAND_SECTIONS = new Set(['raw_tp', 'raw_tracepoint']);
/** Iterator targets that walk the network namespace of the task opening the iterator (bpf_iter_init_seq_net). */
const PER_NETNS_TARGETS = new Set(['tcp', 'udp', 'unix', 'netlink', 'ipv6_route']);

/** The target of an iterator program's section (`iter/task` → task, `iter.s/task` → task), else undefined. */
export function iterTarget(section: string): string | undefined {
  const m = /^iter(?:\.s)?\/(.+)$/.exec(section);
  return m?.[1];
}

export interface SnapshotIter {
  prog: string;
  section: string;
  target: string;
  /** The map an iter/bpf_map_elem program walks (GADGET_ITER_TARGET_MAP). */
  targetMap?: string;
  link?: Link;
}

export interface SnapshotDs {
  ds: DataSource;
  programs: string[];
  /** The iterator programs (filled by onDemand from the sections); the others run with BPF_PROG_TEST_RUN. */
  iters: SnapshotIter[];
  intervalMs: number;
  count: number;
  fetchOnStop: boolean;
  fetches: number;
  lostSeen: bigint;
}

/** Check the programs of a snapshotter: BPF iterators or on-demand raw tracepoints, or a one-line reason why not. */
export function checkSnapshotPrograms(gadget: string, name: string, programs: string[], sections: Map<string, string>): void {
  for (const p of programs) {
    const sec = sections.get(p);
    if (sec === undefined) throw new GadgetError(`gadget ${gadget}: snapshotter ${name}: program ${p} is not in the eBPF object`);
    if (iterTarget(sec) !== undefined || ON_DEMAND_SECTIONS.has(sec)) continue;
    throw new GadgetError(`gadget ${gadget}: snapshotter ${name}: program ${p} has section "${sec}"; snapshot programs must be iter/<target> (BPF iterators) or SEC("raw_tp") (run on demand, include/gadget/snapshot.h)`);
  }
}

/** Where network iterators are read: one path per network namespace (null: ig's own), deduplicated by inode. */
export type NetnsList = () => NetnsPath[];

/**
 * Everything an iterator link wrote in one walk per namespace (null: ig's own), checked to be whole records of
 * `size` bytes. A namespace that vanished meanwhile (its container exited) is skipped, as upstream does.
 */
export function readIterator(ds: DataSource, it: SnapshotIter, link: Link, namespaces: NetnsPath[], size: number): Buffer[] {
  const out: Buffer[] = [];
  for (const ns of namespaces) {
    let buf: Buffer;
    try {
      buf = link.readIterator(ns);
    } catch (e) {
      if (ns !== null && (e as { code?: string }).code === 'ENOENT') continue;
      throw new GadgetError(`snapshot ${ds.name}: reading iterator ${it.prog} (${it.section})${ns ? ` in ${ns}` : ''} failed: ${(e as Error).message}`);
    }
    if (buf.length % size !== 0) {
      throw new GadgetError(`snapshot ${ds.name}: iterator ${it.prog} (${it.section}) wrote ${buf.length} bytes, not a whole number of ${size}-byte records of the data source's struct`);
    }
    if (buf.length > 0) out.push(buf);
  }
  return out;
}

/** One batch: the ring buffer's samples (if any program ran on demand), then the iterators' records in order. */
export function snapshotBatch(ds: DataSource, ring: { buf: Buffer; count: number } | undefined, fixed: Buffer[], size: number): Batch {
  const n = fixed.reduce((a, b) => a + b.length, 0) / size;
  if (!ring || ring.count === 0) return Batch.fixed(ds, fixed.length === 1 ? fixed[0]! : Buffer.concat(fixed), size, n);
  const r = batchFromRing(ds, ring.buf, ring.count);
  if (n === 0) return r;
  let end = 0;
  for (let k = 0; k < r.count; k++) end = Math.max(end, r.offs[k]! + r.lens[k]!);
  const buf = Buffer.concat([r.buf.subarray(0, end), ...fixed]);
  const offs = new Uint32Array(r.count + n);
  const lens = new Uint32Array(r.count + n);
  offs.set(r.offs.subarray(0, r.count));
  lens.set(r.lens.subarray(0, r.count));
  for (let k = 0; k < n; k++) {
    offs[r.count + k] = end + k * size;
    lens[r.count + k] = size;
  }
  return new Batch(ds, buf, offs, lens, r.count + n);
}

/** Attach an iterator program of a snapshotter (once; again after the links were destroyed at stop). */
function iterLink(obj: BpfObject, gadget: string, s: SnapshotDs, it: SnapshotIter): Link {
  if (it.link && !it.link.destroyed) return it.link;
  try {
    it.link = obj.attachIter(it.prog, it.targetMap ? obj.map(it.targetMap).fd : -1);
  } catch (e) {
    throw new GadgetError(`gadget ${gadget}: snapshotter ${s.ds.name}: the kernel refused iterator program ${it.prog} (${it.section}): ${(e as Error).message}`);
  }
  return it.link;
}

/** Run the snapshot programs and return the records they wrote, as one batch. */
export function takeSnapshot(obj: BpfObject, s: SnapshotDs, netns: NetnsList = () => [null], gadget = ''): { batch: Batch; dropped: number } {
  const iters = new Set(s.iters.map((i) => i.prog));
  const runs = s.programs.filter((p) => !iters.has(p));
  let ring: { buf: Buffer; count: number } | undefined;
  let dropped = 0;
  if (runs.length > 0) {
    const rb = obj.map(SNAPSHOT_RING);
    // Anything left over (a failed earlier run) must not leak into this snapshot.
    drainRing(rb);
    for (const p of runs) {
      try {
        obj.testRun(p);
      } catch (e) {
        throw new GadgetError(`snapshot ${s.ds.name}: running program ${p} failed: ${(e as Error).message}`);
      }
    }
    const d = drainRing(rb);
    ring = { buf: d.buf, count: d.count };
    dropped = d.dropped;
  }
  const size = s.ds.staticSize;
  const fixed: Buffer[] = [];
  for (const it of s.iters) {
    const link = iterLink(obj, gadget, s, it);
    fixed.push(...readIterator(s.ds, it, link, PER_NETNS_TARGETS.has(it.target) ? netns() : [null], size));
  }
  return { batch: snapshotBatch(s.ds, ring, fixed, size), dropped };
}

/** The snapshotter part of the eBPF operator: data sources filled by running programs on demand. */
export class Snapshots {
  readonly list: SnapshotDs[] = [];
  private timers: NodeJS.Timeout[] = [];
  private immediates: NodeJS.Immediate[] = [];
  private obj?: BpfObject;
  /** GADGET_ITER_TARGET_MAP: the map each iter/bpf_map_elem program walks. */
  private targetMaps = new Map<string, string>();

  constructor(private readonly ctx: GadgetContext) {}

  /** The maps iter/bpf_map_elem programs walk (GADGET_ITER_TARGET_MAP markers). */
  setTargetMaps(pairs: { program: string; map: string }[]): void {
    for (const { program, map } of pairs) this.targetMaps.set(program, map);
  }

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
    this.list.push({ ds, programs, iters: [], intervalMs, count, fetchOnStop: a('ebpf.iter.fetch-on-stop') === 'true', fetches: 0, lostSeen: 0n });
  }

  /**
   * Check the programs (before load); returns the ones the loader must not attach: on-demand programs are never
   * attached, iterators are attached here at start.
   */
  onDemand(sections: Map<string, string>): Set<string> {
    const out = new Set<string>();
    for (const s of this.list) {
      checkSnapshotPrograms(this.ctx.name, s.ds.name, s.programs, sections);
      s.iters = [];
      for (const p of s.programs) {
        out.add(p);
        const section = sections.get(p)!;
        const target = iterTarget(section);
        if (target !== undefined) s.iters.push({ prog: p, section, target, targetMap: this.targetMaps.get(p) });
      }
    }
    return out;
  }

  /**
   * The network namespaces network iterators are read in at this fetch, one path per namespace: ig's own when the
   * run watches the host (--host, or no container operator), and each selected container's that runs now (the
   * container operator keeps ctx.mounts current), as upstream reads them once per container network namespace.
   */
  private netnsList = (): NetnsPath[] => {
    const m = this.ctx.mounts;
    const seen = new Map<number, NetnsPath>();
    const add = (path: NetnsPath) => {
      let ino: number;
      try { ino = statSync(path ?? '/proc/self/ns/net').ino; } catch { return; } // the container exited: nothing to read there
      if (!seen.has(ino)) seen.set(ino, path);
    };
    if (m.host) add(null);
    for (const c of m.containers) add(`/proc/${c.pid}/ns/net`);
    return [...seen.values()];
  };

  /** Start fetching; `onlySnapshots`: nothing else produces records, so the gadget is done when these are. */
  start(obj: BpfObject, onlySnapshots: boolean): void {
    if (this.list.length === 0) return;
    this.obj = obj;
    const ctx = this.ctx;
    // Iterators are attached now, so a target the kernel refuses ends the start in one line.
    for (const s of this.list) for (const it of s.iters) iterLink(obj, ctx.name, s, it);
    const finite = this.list.filter((s) => s.count > 0);
    const run = (s: SnapshotDs): boolean => {
      try {
        const { batch, dropped } = takeSnapshot(obj, s, this.netnsList, ctx.name);
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
        // The iterator links were destroyed with the others at stop: attached again for this walk.
        emitBatch(this.ctx, s.ds, takeSnapshot(obj, s, this.netnsList, this.ctx.name).batch);
      } catch (e) { this.ctx.log.warn(`${s.ds.name}: final fetch failed: ${(e as Error).message}`); }
    }
    for (const s of this.list) for (const it of s.iters) it.link?.destroy();
  }
}
