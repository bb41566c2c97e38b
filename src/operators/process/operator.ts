// ProcessEnricher (priority 6): for every process struct (`struct gadget_process`, e.g. `proc`) in a data
// source, adds a hidden derived field `<proc>.exe`: the executable of `<proc>.pid`, read with readlink
// /proc/<pid>/exe when the value is shown (JSON output, or `--fields +proc.exe`), never otherwise.
//
// Identity: pids are reused, so an answer belongs to (pid, process start time, comm): the start time (field
// 22 of /proc/<pid>/stat) tells a new process with the same pid apart, and the event's comm tells an exec(2)
// apart (the exe changes with it, the start time does not). Answers live in a small LRU keyed by (pid, comm);
// an entry's start time is re-checked when it is older than 1 s, so a busy process costs one /proc read per
// second, not one per event; a process that is gone (and not cached) gets an empty exe, and that answer is
// cached the same way.
//
// Processes that exec or fork while ig runs, and those of ig's mount namespace already running when it starts
// (one sweep in the kernel), are answered from the kernel instead (exe-tracker.ts: their executable is recorded
// at exec, so a process that lived a millisecond still has one, and no /proc read is needed); the tracker is loaded on first use of an `exe` field and declared as the field's kernel source, so
// the native renderer reads the same map without JS.
import * as fs from 'node:fs';
import type { HostFacts } from '../../gadget/host-facts.js';
import type { DataOperator } from '../../gadget/operator.js';
import { Kind, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import { ExeTracker, EXE_COMM_LEN, EXE_PATH_MAX, EXE_SLOTS } from './exe-tracker.js';
import { trimMallocHeap } from '../../bpf/process-memory.js';

const hostRoot = process.env['HOST_ROOT'] ?? '';

/** Start time (clock ticks after boot) of `pid`, or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  let stat: string;
  try { stat = fs.readFileSync(`${hostRoot}/proc/${pid}/stat`, 'latin1'); } catch { return undefined; }
  // comm may contain spaces and ')': the fields after it start past the last ')'
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20);
  return rest[19];
}

interface ExeEntry { start: string; exe: string; checkedAt: number }

export class ExeResolver {
  private readonly cache = new Map<string, ExeEntry>();
  lookups = 0;
  readlinks = 0;
  statReads = 0;

  /**
   * @param max LRU size
   * @param revalidateMs how long a cached answer is trusted before the pid's start time is read again
   *   (a busy process yields many events: without this each would cost a /proc read)
   * @param now clock (tests)
   */
  constructor(private readonly max = 1024, private readonly revalidateMs = 1000, private readonly now: () => number = Date.now) {}

  private start(pid: number): string | undefined {
    this.statReads++;
    return startTime(pid);
  }

  /** Executable of `pid` (the event's comm tells an exec apart); '' when unknown or gone. */
  private last?: { pid: number; comm: string; exe: string; at: number };

  exe(pid: number, comm = ''): string {
    if (!(pid > 0)) return '';
    this.lookups++;
    const t = this.now();
    // Bursts come from one process: skip the LRU while the last answer is fresh.
    const l = this.last;
    if (l && l.pid === pid && l.comm === comm && t - l.at < this.revalidateMs) return l.exe;
    const exe = this.lookup(pid, comm, t);
    this.last = { pid, comm, exe, at: t };
    return exe;
  }

  private lookup(pid: number, comm: string, t: number): string {
    const key = `${pid}:${comm}`;
    const hit = this.cache.get(key);
    let st: string | undefined;
    if (hit) {
      this.cache.delete(key); // LRU: most recently used last
      if (t - hit.checkedAt < this.revalidateMs) {
        this.cache.set(key, hit);
        return hit.exe;
      }
      st = this.start(pid);
      if (st !== undefined && st === hit.start) {
        hit.checkedAt = t;
        this.cache.set(key, hit);
        return hit.exe;
      }
      // gone, or the same pid is another process now: resolve afresh
    } else {
      st = this.start(pid);
    }
    let exe = '';
    if (st !== undefined) {
      this.readlinks++;
      try { exe = fs.readlinkSync(`${hostRoot}/proc/${pid}/exe`); } catch { /* exited, or a kernel thread */ }
      // the process might have exited and its pid been reused while we looked: keep only a consistent answer
      if (exe && this.start(pid) !== st) exe = '';
    }
    // misses are cached too (start ''): events of processes that are gone cost one failed /proc read per
    // second instead of one per event
    this.cache.set(key, { start: exe ? st! : '', exe, checkedAt: t });
    if (this.cache.size > this.max) this.cache.delete(this.cache.keys().next().value as string);
    return exe;
  }

  get size(): number { return this.cache.size; }
}

const shared = new ExeResolver();

/** How long after the tracker's start its sweep over older processes runs (see LazyExeTracker.get). */
const SWEEP_DELAY_MS = 500;

/** The exe tracker of one run, loaded on first use (undefined when it cannot run here: then /proc only). */
export class LazyExeTracker {
  private tracker: ExeTracker | undefined;
  private failed = false;
  constructor(private readonly onError: (e: unknown) => void = () => {}) {}

  get(): ExeTracker | undefined {
    if (this.tracker || this.failed) return this.tracker;
    if (!ExeTracker.usable(hostRoot)) { this.failed = true; return undefined; }
    try {
      const t = (this.tracker = ExeTracker.start());
      // The sweep over older processes loads an object of its own (≈11–14 ms of CPU, JS blocked meanwhile; its
      // attach point is read from the kernel's BTF in 64 KiB pieces, native/src/iter_target.c): not before the first
      // event, which comes after the plan's compile, the gadget's load and attach and, for a process older than ig,
      // a memo miss JS answers from /proc; the C heap the load leaves is trimmed. Older processes shown meanwhile
      // ask /proc once each, as every process did before the sweep existed.
      setTimeout(() => { t.sweep(); trimMallocHeap(); }, SWEEP_DELAY_MS).unref();
    } catch (e) {
      this.failed = true; // the /proc reads still answer, only later and for live processes
      this.onError(e);
    }
    return this.tracker;
  }

  close(): void {
    this.tracker?.close();
    this.tracker = undefined;
  }
}

/** The process-struct fields of a data source (by BTF type name, as upstream: `struct gadget_process`). */
export function processFields(ds: DataSource): Field[] {
  return ds.fields.filter((f) => f.typeNames().includes('gadget_process') && !f.unreferenced);
}

/** Add `<proc>.exe` under every process struct that has a `pid` member. Returns how many were added. */
export function installProcessEnricher(ds: DataSource, resolver: ExeResolver = shared, tracker?: LazyExeTracker, facts?: HostFacts): number {
  let n = 0;
  for (const proc of processFields(ds)) {
    const pidField = ds.getField(`${proc.fullName}.pid`);
    if (!pidField || ds.getField(`${proc.fullName}.exe`)) continue;
    const commField = ds.getField(`${proc.fullName}.comm`);
    const getPid = pidField.get;
    const getComm = commField?.get;
    // the record's comm bytes, as the tracker and the native renderer compare them
    const cs = commField?.storage;
    const commAt = cs?.type === 'static' && !cs.bitSize && cs.size === EXE_COMM_LEN && commField!.readsStorage ? cs.offs : -1;
    // one resolution per record even if the value is asked for twice (e.g. filter then output)
    let lastB: Batch | undefined; let lastI = -1; let last = '';
    const exe = ds.addField({
      name: 'exe', parent: proc, kind: Kind.String, order: pidField.order, tags: ['src:process'],
      annotations: { 'columns.hidden': 'true', 'columns.width': '32', 'columns.alias': 'exe', description: 'Executable of the process (/proc/<pid>/exe when the event is shown)' },
      storage: {
        type: 'derived',
        compute: (b, i) => {
          if (b === lastB && i === lastI) return last;
          lastB = b; lastI = i;
          const pid = Number(getPid(b, i));
          const comm = () => (getComm ? String(getComm(b, i) ?? '') : '');
          const live = () => {
            const t = commAt >= 0 ? tracker?.get() : undefined;
            const o = b.offs[i]! + commAt;
            const k = t && pid > 0 ? t.exe(pid, b.buf.subarray(o, o + EXE_COMM_LEN)) : undefined;
            return k ?? resolver.exe(pid, comm());
          };
          // Recorded and replayed runs: the executable is a host fact (the recording's processes, not this machine's).
          last = facts && facts.mode !== 'live' ? facts.ask('exe', `${pid}:${comm()}`, live, '') : live();
          return last;
        },
      },
    });
    // Same identity and freshness as the resolver's cache: (pid, comm), re-checked after a second.
    exe.derivation = { kind: 'computed', inputs: commField ? [pidField, commField] : [pidField], ttlMs: 1000 };
    // Not while recording: a text the native renderer reads from the tracker's map never reaches facts.ask, so the
    // recording would lack that executable and its replay would print it empty.
    if (tracker && commAt >= 0 && facts?.mode !== 'record') {
      exe.derivation.kernelText = { mapFds: () => tracker.get()?.mapFds(), slots: EXE_SLOTS, matchSize: EXE_COMM_LEN, textSize: EXE_PATH_MAX };
    }
    n++;
  }
  return n;
}

export const processEnricherOperator: DataOperator = {
  name: 'ProcessEnricher',
  priority: 6,
  instantiate(ctx) {
    let n = 0;
    const tracker = new LazyExeTracker((e) => ctx.log.debug(`process: exe tracker not loaded (${e instanceof Error ? e.message : String(e)}); executables come from /proc`));
    // A replay loads nothing into the kernel: its executables come from the recording only.
    for (const ds of ctx.dataSources.values()) n += installProcessEnricher(ds, shared, ctx.facts.mode === 'replay' ? undefined : tracker, ctx.facts);
    return n > 0 ? { name: 'ProcessEnricher', postStop() { tracker.close(); } } : null;
  },
};
