// Snapshots without BPF iterators (include/gadget/snapshot.h): the programs named by GADGET_SNAPSHOTTER /
// GADGET_ITER are `SEC("raw_tp")` programs that are never attached. Each fetch runs them once with
// BPF_PROG_TEST_RUN (in ig's own task, so they walk kernel lists from there), then drains the ring buffer
// `gadget_snapshot_buf` synchronously: every sample is one record, and all of them form one array batch.
import type { NativeAddon, ObjectHandle } from '../../bpf/native-api.js';
import type { DataSource } from '../../datasource/index.js';
import { GadgetError } from '../../gadget/context.js';
import { batchFromRing } from './records.js';

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
export function takeSnapshot(native: NativeAddon, obj: ObjectHandle, s: SnapshotDs): { batch: ReturnType<typeof batchFromRing>; dropped: number } {
  const fd = native.mapFd(obj, SNAPSHOT_RING);
  // Anything left over (a failed earlier run) must not leak into this snapshot.
  native.ringDrain(fd, 0);
  for (const p of s.programs) {
    try {
      native.progTestRun(obj, p, null);
    } catch (e) {
      throw new GadgetError(`snapshot ${s.ds.name}: running program ${p} failed: ${(e as Error).message}`);
    }
  }
  const d = native.ringDrain(fd, 0);
  return { batch: batchFromRing(s.ds, d.buf, d.count), dropped: d.dropped };
}

/** Sum of a per-CPU u64 counter map's single entry. */
export function readPerCpuCounter(native: NativeAddon, fd: number): bigint {
  const v = native.mapLookup(fd, Buffer.alloc(4), 8);
  if (!v) return 0n;
  let sum = 0n;
  for (let o = 0; o + 8 <= v.length; o += 8) sum += v.readBigUInt64LE(o);
  return sum;
}
