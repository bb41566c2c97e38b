// The exe tracker: the process enricher's eBPF program (bpf/exe_tracker.bpf.c) that records, as processes exec
// and fork, the executable /proc/<pid>/exe would show, in a map keyed by pid (two slots: the command names
// before and after the last exec). A process that lived a millisecond (an exec storm of /bin/true) is gone
// from /proc when its events are shown; in the map it is still there, and the native renderer reads it without
// a round trip through JS (the memo's kernel source, native-plan.ts).
//
// The processes already running when the tracker starts are recorded too, in the kernel, by one sweep over every
// task (an iterator program run once, from an object of its own loaded right after the start so that its load is
// not before ig's first event: the sweep itself takes ~1 ms for a few hundred processes), instead of one /proc read
// per process when its first event is shown.
//
// Only processes in ig's own mount namespace are recorded (there the in-kernel path walk and readlink give the
// same text), and only when ig sees the host's /proc as its own (no HOST_ROOT). The object is compiled once per
// source version into .build/bpf/ (scripts/setup.sh does it at install; a run compiles it if missing).
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../bpf/object.js';
import { helperObjectPath } from '../../bpf/helper-object.js';
import type { BpfMap } from '../../bpf/map.js';

const MAP = 'ig_exe_by_pid';
const PATHS = 'ig_exe_paths';
/** The start-up sweep (iter/task) over the processes older than the tracker. */
const SWEEP = 'ig_exe_sweep';
const SOURCE = join('src', 'operators', 'process', 'bpf', 'exe_tracker.bpf.c');
const HEADERS = ['types.h', 'filesystem.h'];
/**
 * Layout of the maps (exe_tracker.bpf.c), mappable arrays: ig_exe_by_pid, 4096 entries, a process's at
 * tgid % 4096, each [u64 seq (odd while written)][u32 tgid][u32 pad] then two slots of [comm 16][u32 path][u32 tag];
 * ig_exe_paths, 1024 entries of [u64 seq][u32 tag][u32 pad][exe path 240, NUL-terminated] (a path at its hash
 * % 1024 or the entry next to it), the slot's path at index `path` while its tag is the slot's (0: unknown).
 * Each executable's path once: 0.5 MiB mapped, not 2.06.
 */
export const EXE_COMM_LEN = 16;
export const EXE_PATH_MAX = 240;
export const EXE_SLOTS = 2;
export const EXE_ENTRY_HEADER = 16;
const SLOT = EXE_COMM_LEN + 8;

/** The compiled object, built now if this source version has not been built yet. */
export function exeTrackerObjectPath(): string {
  return helperObjectPath({ label: 'exe tracker', stem: 'exe_tracker', source: SOURCE, headers: HEADERS });
}

/** The tracker records the processes of ig's own mount namespace only (set before load). */
function setHostMntns(o: BpfObject): void {
  const v = Buffer.alloc(8);
  v.writeBigUInt64LE(ownMntns());
  o.setVar('host_mntns', v);
}

/** ig's own mount namespace id. */
function ownMntns(): bigint {
  return BigInt(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/mnt'))?.[1] ?? '0');
}

/** The loaded tracker; close() detaches and unloads it. */
export class ExeTracker {
  private readonly key = Buffer.alloc(4);
  private readonly pathKey = Buffer.alloc(4);

  /** Whether the start-up sweep ran (a kernel without task iterators: older processes are left to /proc). */
  swept = false;
  private sweepTried = false;
  /** Why the sweep did not run, when it did not. */
  sweepError: string | undefined;

  private closed = false;

  private constructor(private readonly obj: BpfObject, readonly map: BpfMap, readonly paths: BpfMap, private readonly elf: Buffer) {}

  /** The two maps, for a reader that maps them (KernelTextSource). */
  mapFds(): { keys: number; texts: number } {
    return { keys: this.map.fd, texts: this.paths.fd };
  }

  /**
   * Load and attach the tracker (throws when a hook is missing or the object cannot be built). The start-up sweep
   * is not part of this load, which comes before ig's first event: sweep() runs it, once, from an object of its own
   * (SEC("ig_iter/task"): its attach point is found by native/src/iter_target.c, ≈11–14 ms of CPU and no heap, where
   * libbpf's lookup for iter/task parsed all of the kernel's BTF: ≈11.5 MiB for a moment and more CPU).
   */
  static start(): ExeTracker {
    // From memory, so that a minimized kernel BTF kept for it (setCoreBtfSource) spares parsing vmlinux's.
    const elf = readFileSync(exeTrackerObjectPath());
    const open = (vmlinuxBtf: boolean) => {
      const o = BpfObject.open(elf, 'exe_tracker', vmlinuxBtf ? { vmlinuxBtf } : undefined);
      setHostMntns(o);
      o.setAutoload(SWEEP, false);
      return o;
    };
    const obj = BpfObject.openLoaded(open);
    try {
      for (const p of obj.programs()) if (p.name !== SWEEP) obj.attachAuto(p.name);
      const map = obj.map(MAP);
      if (map.valueSize !== EXE_ENTRY_HEADER + SLOT * EXE_SLOTS) throw new Error(`exe tracker: ${MAP} values are ${map.valueSize} bytes, expected ${EXE_ENTRY_HEADER + SLOT * EXE_SLOTS}`);
      const paths = obj.map(PATHS);
      if (paths.valueSize !== EXE_ENTRY_HEADER + EXE_PATH_MAX) throw new Error(`exe tracker: ${PATHS} values are ${paths.valueSize} bytes, expected ${EXE_ENTRY_HEADER + EXE_PATH_MAX}`);
      return new ExeTracker(obj, map, paths, elf);
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /**
   * Record the processes older than the tracker (once; later calls return the first answer): the iterator of the
   * same object file, loaded alone over this tracker's map, run once and unloaded. After the hooks are attached, so
   * a process that execs meanwhile is recorded by the exec hook, which the sweep leaves alone. False on a kernel
   * without task iterators: older processes are left to /proc.
   */
  sweep(): boolean {
    if (this.sweepTried || this.closed) return this.swept;
    this.sweepTried = true;
    let it: BpfObject | undefined;
    try {
      it = BpfObject.open(this.elf, 'exe_sweep');
      setHostMntns(it);
      for (const p of it.programs()) if (p.name !== SWEEP) it.setAutoload(p.name, false);
      it.reuseMap(MAP, this.map);
      it.reuseMap(PATHS, this.paths);
      it.load();
      it.runIterator(SWEEP);
      this.swept = true;
    } catch (e) {
      // no task iterators here (or no BTF for one): older processes are left to /proc; the reason is kept for -v
      this.swept = false;
      this.sweepError = e instanceof Error ? e.message : String(e);
    } finally {
      it?.close();
    }
    return this.swept;
  }

  /** Whether this process may use the tracker (its paths are the ones readlink would give ig). */
  static usable(hostRoot: string): boolean {
    return hostRoot === '';
  }

  /**
   * The executable recorded for `pid` when the process had command name `comm`; undefined when nothing is
   * recorded for that name (or the path did not fit): ask /proc. Same slot choice as the native reader.
   */
  exe(pid: number, comm: Uint8Array): string | undefined {
    this.key.writeUInt32LE((pid >>> 0) % this.map.maxEntries);
    const v = this.map.lookup(this.key);
    // another process's entry, or one being written (then /proc answers, as for a process older than ig)
    if (!v || v.readUInt32LE(8) !== pid >>> 0 || (v[0]! & 1) !== 0) return undefined;
    const again = this.map.lookup(this.key);
    if (!again || again.readBigUInt64LE(0) !== v.readBigUInt64LE(0)) return undefined;
    for (let s = 0; s < EXE_SLOTS; s++) {
      const at = EXE_ENTRY_HEADER + s * SLOT;
      if (!commEqual(v, at, comm)) continue;
      const tag = v.readUInt32LE(at + EXE_COMM_LEN + 4);
      return tag === 0 ? undefined : this.path(v.readUInt32LE(at + EXE_COMM_LEN), tag); // 0: unknown or too long
    }
    return undefined;
  }

  /** The path at `idx` of the path table while its tag is `tag` (another path may have taken the entry since). */
  private path(idx: number, tag: number): string | undefined {
    this.pathKey.writeUInt32LE(idx % this.paths.maxEntries);
    const v = this.paths.lookup(this.pathKey);
    if (!v || v.readUInt32LE(8) !== tag || (v[0]! & 1) !== 0) return undefined;
    const again = this.paths.lookup(this.pathKey);
    if (!again || again.readBigUInt64LE(0) !== v.readBigUInt64LE(0)) return undefined;
    const end = v.indexOf(0, EXE_ENTRY_HEADER);
    const stop = end < 0 ? v.length : end;
    return stop === EXE_ENTRY_HEADER ? undefined : v.toString('utf8', EXE_ENTRY_HEADER, stop);
  }

  close(): void {
    this.closed = true;
    this.obj.close();
  }
}

/** C-string equality of the slot's comm and the record's (up to 16 bytes, compared up to the first NUL). */
function commEqual(v: Buffer, at: number, want: Uint8Array): boolean {
  for (let i = 0; i < EXE_COMM_LEN; i++) {
    const a = v[at + i]!, b = i < want.length ? want[i]! : 0;
    if (a !== b) return false;
    if (a === 0) return true;
  }
  return true;
}
