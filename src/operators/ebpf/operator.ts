// The eBPF image operator: reads the gadget's ELF (BTF markers → data sources and params), then at start
// loads it with the param values and the container filter map, attaches every program and streams records.
import { Btf } from '../../bpf/btf/btf.js';
import { ElfFile } from '../../bpf/btf/elf.js';
import type { EnumInfo, VarInfo } from '../../bpf/btf/model.js';
import { native } from '../../bpf/native.js';
import { BATCH_REFRESH, type LinkHandle, type ObjectHandle, type ReaderHandle, type ReaderOptions } from '../../bpf/native-api.js';
import { mountBpfFilesystems } from '../../bpf/mounts.js';
import { BpfMap } from '../../bpf/map.js';
import { DataSource } from '../../datasource/index.js';
import { GadgetContext, GadgetError } from '../../gadget/context.js';
import type { OperatorInstance } from '../../gadget/operator.js';
import type { ParamDesc } from '../../gadget/params.js';
import { attachProgram, type AttachEnv } from './attach.js';
import type { NetnsSocketFilter } from './socketfilter.js';
import { mapFetchPlans, parseCount, parseInterval, validateCountList, validateIntervalList, type FetchPlan } from './fetch.js';
import { checkSnapshotPrograms, readPerCpuCounter, SNAPSHOT_RING, takeSnapshot, type SnapshotDs } from './snapshots.js';
import { addStackFields } from './stacks.js';
import { addSyscallFields } from './syscalls.js';
import { addStructFields } from './fields.js';
import { mapBtf } from '../../bpf/btf/maps.js';
import { ebpfParam, encodeParam, EBPF_PREFIX, type EbpfParam } from './params.js';
import { batchFromDump, batchFromRing } from './records.js';

const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_MAP_TYPE_RINGBUF = 27;
const MIN_RING_BYTES = 8 * 1024 * 1024;

/** The ring size floor: a power of two of at least a page, as the kernel requires; 0 keeps the declared size. */
function ringFloor(annotation: string | undefined): number {
  if (annotation === undefined) return MIN_RING_BYTES;
  const n = Number(annotation);
  if (!Number.isFinite(n) || n <= 0) return 0;
  let size = 4096;
  while (size < n) size *= 2;
  return size;
}
const BPF_PROG_TYPE_PERF_EVENT = 7;

interface TracerDs { ds: DataSource; map: string; reader?: ReaderHandle; lostMap?: string; lostSeen: bigint }
interface MapIterDs {
  ds: DataSource; map: string; keySize: number; valueSize: number; fetches: number; flushOnStop: boolean;
  /** Fetches left before this iterator is done (count > 0), or -1 when unlimited. */
  remaining: number;
}

export class EbpfOperator implements OperatorInstance {
  readonly name = 'ebpf';
  private readonly btf: Btf;
  private readonly tracers: TracerDs[] = [];
  private readonly mapIters: MapIterDs[] = [];
  private readonly snapshots: SnapshotDs[] = [];
  private readonly ebpfParams: EbpfParam[] = [];
  private obj?: ObjectHandle;
  private loaded = false;
  private links: LinkHandle[] = [];
  private sockets: number[] = [];
  private socketFilters: NetnsSocketFilter[] = [];
  private cleanups: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private immediates: NodeJS.Immediate[] = [];
  private kernelEnums = new Map<string, EnumInfo | undefined>();

  constructor(private readonly ctx: GadgetContext, private readonly elf: Buffer) {
    try {
      this.btf = Btf.fromElf(elf);
    } catch (e) {
      throw new GadgetError(`gadget ${ctx.name}: invalid eBPF object: ${(e as Error).message}`);
    }
    this.buildDataSources();
    this.buildParams();
    this.declareNames();
  }

  /** Tell the other operators what the program has, so they can offer maps and variables by name (offers.ts). */
  private declareNames(): void {
    const layout = (id: number | undefined) => {
      if (id === undefined) return undefined;
      // Only struct keys/values have a layout; a scalar key (u32 index) is described by its size alone.
      try { return this.btf.structLayoutById(id); } catch { return undefined; }
    };
    for (const v of this.btf.datasecVars('.maps')) {
      const mb = mapBtf(this.btf, v.name);
      this.ctx.offers.declareMap({ name: v.name, type: mb?.mapType, keySize: mb?.keySize, valueSize: mb?.valueSize, key: layout(mb?.keyTypeId), value: layout(mb?.valueTypeId) });
    }
    for (const name of this.btf.markers().vars) this.ctx.offers.declareVariable(name);
  }

  private kernelEnum = (name: string): EnumInfo | undefined => {
    if (!this.kernelEnums.has(name)) {
      let info: EnumInfo | undefined;
      try { info = Btf.kernel().enumByName(name); } catch { info = undefined; }
      this.kernelEnums.set(name, info);
    }
    return this.kernelEnums.get(name);
  };

  private buildDataSources(): void {
    const m = this.btf.markers();
    const gadget = this.ctx.name;
    for (const t of m.tracers) {
      const ds = this.ctx.addDataSource(t.name, 'single');
      let layout;
      try { layout = this.btf.structLayout(t.struct); } catch { throw new GadgetError(`gadget ${gadget}: tracer ${t.name}: struct ${t.struct} is not in the object's BTF`); }
      ds.staticSize = layout.size;
      addStructFields(ds, layout, { kernelEnum: this.kernelEnum });
      this.tracers.push({ ds, map: t.map, lostMap: `${t.map}_lost_samples`, lostSeen: 0n });
    }
    for (const it of m.mapIters) {
      const mb = mapBtf(this.btf, it.map);
      if (!mb || mb.keyTypeId === undefined || mb.valueTypeId === undefined) throw new GadgetError(`gadget ${gadget}: map iterator ${it.name}: map ${it.map} has no BTF key/value types`);
      const ds = this.ctx.addDataSource(it.name, 'array');
      const keyLayout = this.btf.structLayoutById(mb.keyTypeId);
      const valLayout = this.btf.structLayoutById(mb.valueTypeId);
      ds.staticSize = mb.keySize! + mb.valueSize!;
      addStructFields(ds, keyLayout, { tags: ['role:key'], kernelEnum: this.kernelEnum });
      addStructFields(ds, valLayout, { base: mb.keySize!, kernelEnum: this.kernelEnum });
      this.mapIters.push({ ds, map: it.map, keySize: mb.keySize!, valueSize: mb.valueSize!, fetches: 0, flushOnStop: ds.annotations.get('ebpf.map.flush-on-stop') === 'true', remaining: -1 });
    }
    for (const it of m.iters) {
      // Snapshotters: records of `struct <it.struct>` (see snapshots.ts for how they are produced).
      const ds = this.ctx.addDataSource(it.name, 'array');
      let layout;
      try { layout = this.btf.structLayout(it.struct); } catch { throw new GadgetError(`gadget ${gadget}: snapshotter ${it.name}: struct ${it.struct} is not in the object's BTF`); }
      ds.staticSize = layout.size;
      addStructFields(ds, layout, { kernelEnum: this.kernelEnum });
      const a = (k: string) => ds.annotations.get(k);
      const what = `gadget ${gadget}: data source ${it.name}`;
      let intervalMs: number;
      let count: number;
      try {
        intervalMs = parseInterval(a('fetch-interval') ?? '0', `${what}: fetch-interval`);
        count = parseCount(a('fetch-count') ?? '1', `${what}: fetch-count`);
      } catch (e) { throw new GadgetError((e as Error).message); }
      this.snapshots.push({ ds, programs: it.programs, intervalMs, count, fetchOnStop: a('ebpf.iter.fetch-on-stop') === 'true', fetches: 0, lostSeen: 0n });
    }
    const stackEnv = {
      native,
      mapFd: (name: string) => { if (!this.obj || !this.loaded) return undefined; try { return native.mapFd(this.obj, name); } catch { return undefined; } },
      warn: (msg: string) => this.ctx.log.warn(msg),
    };
    for (const ds of this.ctx.dataSources.values()) {
      addStackFields(ds, stackEnv);
      try { addSyscallFields(ds); } catch (e) { throw new GadgetError(`gadget ${gadget}: ${(e as Error).message}`); }
    }
  }

  private buildParams(): void {
    for (const v of this.btf.markers().params) {
      const info: VarInfo | undefined = this.btf.varInfo(v);
      if (!info) throw new GadgetError(`gadget ${this.ctx.name}: GADGET_PARAM(${v}) names a variable that does not exist`);
      this.ebpfParams.push(ebpfParam(v, info, this.ctx.metadata.ebpfParams[v]));
    }
  }

  params(): ParamDesc[] {
    const out: ParamDesc[] = this.ebpfParams.map((p) => p.desc);
    if (this.mapIters.length > 0) {
      out.push({ key: 'map-fetch-interval', prefix: EBPF_PREFIX, defaultValue: '1000ms', typeHint: 'string', description: 'Interval between fetches of map iterators (e.g. 1s, 500ms; 0: fetch once, when the gadget stops); ds:interval,... per data source', validate: validateIntervalList });
      out.push({ key: 'map-fetch-count', prefix: EBPF_PREFIX, defaultValue: '0', typeHint: 'string', description: 'Number of map fetches before the gadget stops (0: unlimited); ds:count,... per data source', validate: validateCountList });
    }
    if (this.programsBySection().some((s) => s.startsWith('classifier') || s.startsWith('tc'))) {
      out.push({ key: 'iface', prefix: EBPF_PREFIX, defaultValue: '', description: 'Network interface to attach TC programs to' });
    }
    return out;
  }

  /** Program section names straight from the ELF section headers: no kernel work before the run. */
  private programsBySection(): string[] {
    const SHF_EXECINSTR = 4n;
    return new ElfFile(this.elf).sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0n && s.size > 0 && s.name !== '.text').map((s) => s.name);
  }

  async start(ctx: GadgetContext): Promise<void> {
    mountBpfFilesystems();
    const plans = this.fetchPlans(ctx);
    let obj: ObjectHandle;
    try { obj = native.open(this.elf, ctx.name); } catch (e) { throw new GadgetError(`gadget ${ctx.name}: cannot open eBPF object: ${(e as Error).message}`); }
    this.obj = obj;
    // Snapshot programs run on demand (never attached); BPF iterators are refused here, in one line.
    const onDemand = new Set<string>();
    const progSections = new Map(native.programs(obj).map((p) => [p.name, p.section] as const));
    for (const s of this.snapshots) {
      checkSnapshotPrograms(ctx.name, s.ds.name, s.programs, progSections);
      for (const p of s.programs) onDemand.add(p);
    }
    for (const p of this.ebpfParams) {
      if (!ctx.params.isSet(EBPF_PREFIX + p.desc.key) && !p.desc.defaultValue) continue;
      const value = ctx.params.get(EBPF_PREFIX + p.desc.key) ?? '';
      native.setVar(obj, p.varName, encodeParam(p, value));
    }
    // Upstream's section spellings libbpf does not know get their program type here.
    for (const p of native.programs(obj)) {
      if (/^socket\d*$/.test(p.section) && p.type !== BPF_PROG_TYPE_SOCKET_FILTER) native.setProgramType(obj, p.name, BPF_PROG_TYPE_SOCKET_FILTER);
      else if (p.section.startsWith('perf_event/') && p.type !== BPF_PROG_TYPE_PERF_EVENT) native.setProgramType(obj, p.name, BPF_PROG_TYPE_PERF_EVENT);
    }
    const maps = native.maps(obj);
    // Records are read in batches after a short linger; a small ring (upstream gadgets declare 256 KiB) fills
    // within that linger under a syscall storm. Give every tracer ring at least MIN_RING_BYTES.
    // A data source can ask for another floor with the annotation ebpf.ring.min-size (bytes, 0 = as declared).
    for (const t of this.tracers) {
      const m = maps.find((x) => x.name === t.map);
      const want = ringFloor(t.ds.annotations.get('ebpf.ring.min-size'));
      if (m && m.type === BPF_MAP_TYPE_RINGBUF && m.maxEntries < want) native.setMapMaxEntries(obj, t.map, want);
    }
    // Offered names: every declared map / variable that another operator offered is replaced / set.
    for (const m of maps) {
      const offered = ctx.offers.offeredMap(m.name);
      if (offered) native.reuseMapFd(obj, m.name, offered.fd);
    }
    for (const name of this.btf.markers().vars) {
      const value = ctx.offers.offeredVariable(name);
      if (value) native.setVar(obj, name, value);
    }
    try {
      native.load(obj);
      this.loaded = true;
    } catch (e) {
      const err = e as Error & { log?: string; errno?: number };
      const prog = /prog '([^']+)'/.exec(err.message)?.[1] ?? /prog '([^']+)'/.exec(err.log ?? '')?.[1];
      throw new GadgetError(`gadget ${ctx.name}: the kernel rejected ${prog ? `program ${prog}` : 'the eBPF object'}: ${firstLine(err.message)} (run with --verbose for the verifier log)`, err.log || err.message);
    }
    // Publish the loaded maps by name (upstream's "map:<name>" vars): a WASM module's getMap reads them.
    for (const m of native.maps(obj)) if (!m.internal) ctx.offers.publishLoadedMap(m.name, new BpfMap(native.mapFd(obj, m.name)));
    const env: AttachEnv = {
      native, obj, gadget: ctx.name, metadata: ctx.metadata, links: this.links, sockets: this.sockets, socketFilters: this.socketFilters,
      iface: ctx.params.get(EBPF_PREFIX + 'iface') || undefined,
      netnsPaths: ctx.netns.paths,
    };
    for (const p of native.programs(obj)) if (!onDemand.has(p.name)) attachProgram(env, p);
    this.followContainerNetns(ctx);
    for (const t of this.tracers) this.startTracer(t, obj);
    this.startMapIters(ctx, obj, plans);
    this.startSnapshots(ctx, obj);
    this.timers.push(setInterval(() => this.pollLost(), 1000));
  }

  /** Socket filters follow containers that start and stop while the gadget runs (LocalManager announces them). */
  private followContainerNetns(ctx: GadgetContext): void {
    if (this.socketFilters.length === 0) return;
    const onAdd = (path: string) => {
      for (const f of this.socketFilters) {
        try { f.add(path); } catch (e) { ctx.log.warn(`socket filter: cannot attach in ${path}: ${(e as Error).message}`); }
      }
    };
    const onRemove = (ino: number) => { for (const f of this.socketFilters) f.remove(ino); };
    this.cleanups.push(ctx.netns.onAdd(onAdd), ctx.netns.onRemove(onRemove));
  }

  private fetchPlans(ctx: GadgetContext): Map<string, FetchPlan> {
    if (this.mapIters.length === 0) return new Map();
    try {
      return mapFetchPlans(ctx.params.get(EBPF_PREFIX + 'map-fetch-interval') ?? '1000ms', ctx.params.get(EBPF_PREFIX + 'map-fetch-count') ?? '0', this.mapIters.map((i) => i.ds.name));
    } catch (e) {
      throw new GadgetError((e as Error).message);
    }
  }

  private startTracer(t: TracerDs, obj: ObjectHandle): void {
    const fd = native.mapFd(obj, t.map);
    const info = native.maps(obj).find((x) => x.name === t.map);
    const onBatch = (buf: Buffer, count: number, kind?: number) => {
      try {
        if (kind === BATCH_REFRESH) { t.ds.nativeOutput?.refresh(batchFromRing(t.ds, buf, count)); return; }
        t.ds.emit(batchFromRing(t.ds, buf, count));
      } catch (e) {
        this.ctx.log.error(`${t.ds.name}: ${(e as Error).message}`);
        this.ctx.done('error');
      }
    };
    // An output that renders on the reader's thread (cli JSON fast path) takes the records there when nothing
    // else needs them in JS; the callback then only sees the records its plan could not render.
    const out = t.ds.nativeRenderer();
    // Rendering threads linger 4 ms after a poll instead of 1: under a storm that halves their wake-ups and
    // context switches (~15% of their CPU) for output that is 3 ms later; the 8 MiB ring holds ~30 ms of it.
    const opts: ReaderOptions = out ? { maxLatencyMs: 1, lingerUs: 4000, render: out.plan, outFd: 1 } : { maxLatencyMs: 1, lingerUs: 1000 };
    t.reader = info && info.type === 4 /* PERF_EVENT_ARRAY */ ? native.perfOpen(fd, 64, onBatch, opts) : native.ringOpen(fd, onBatch, opts);
    if (out) {
      out.bind(t.reader);
      this.ctx.log.debug(`${t.ds.name}: JSON rendered on the reader thread`);
    }
  }

  private fetchMap(it: MapIterDs, obj: ObjectHandle): void {
    const fd = native.mapFd(obj, it.map);
    const d = native.mapDump(fd, it.keySize, it.valueSize, true);
    it.ds.emit(batchFromDump(it.ds, d.keys, d.values, d.count, it.keySize, it.valueSize));
    it.fetches++;
  }

  private startMapIters(ctx: GadgetContext, obj: ObjectHandle, plans: Map<string, FetchPlan>): void {
    const counted = this.mapIters.filter((it) => (plans.get(it.ds.name)?.count ?? 0) > 0 && (plans.get(it.ds.name)?.intervalMs ?? 0) > 0);
    for (const it of this.mapIters) {
      const plan = plans.get(it.ds.name) ?? { intervalMs: 1000, count: 0 };
      if (plan.intervalMs === 0) {
        // Fetch once, when the gadget stops (flight recorders, end-of-run reports).
        it.flushOnStop = true;
        continue;
      }
      it.remaining = plan.count > 0 ? plan.count : -1;
      const timer = setInterval(() => {
        try {
          this.fetchMap(it, obj);
        } catch (e) {
          ctx.log.error(`${it.ds.name}: ${(e as Error).message}`);
          ctx.done('error');
          return;
        }
        if (it.remaining > 0 && --it.remaining === 0) {
          clearInterval(timer);
          it.flushOnStop = false; // the requested fetches are done: nothing more at stop
          if (counted.every((x) => x.remaining === 0)) ctx.done('map-fetch-count');
        }
      }, plan.intervalMs);
      this.timers.push(timer);
    }
  }

  private startSnapshots(ctx: GadgetContext, obj: ObjectHandle): void {
    if (this.snapshots.length === 0) return;
    const finite = this.snapshots.filter((s) => s.count > 0);
    // Only snapshots and nothing else to wait for: the gadget is done once they are.
    const onlySnapshots = this.tracers.length === 0 && this.mapIters.length === 0;
    const run = (s: SnapshotDs): boolean => {
      try {
        const { batch, dropped } = takeSnapshot(native, obj, s);
        s.fetches++;
        s.ds.emit(batch);
        if (dropped > 0) s.ds.reportLost(dropped, 'snapshot larger than the drain limit');
        this.pollSnapshotLost(s);
        return true;
      } catch (e) {
        ctx.log.error(`${s.ds.name}: ${(e as Error).message}`);
        ctx.done('error');
        return false;
      }
    };
    const finished = (s: SnapshotDs) => s.count > 0 && s.fetches >= s.count;
    const maybeDone = () => { if (onlySnapshots && finite.length === this.snapshots.length && this.snapshots.every(finished)) ctx.done('snapshot'); };
    for (const s of this.snapshots) {
      // The first fetch waits for the other operators' start (enrichers) to have run.
      const first = setImmediate(() => {
        if (!this.loaded || ctx.signal.aborted) return;
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

  private pollSnapshotLost(s: SnapshotDs): void {
    if (!this.obj) return;
    let fd: number;
    try { fd = native.mapFd(this.obj, `${SNAPSHOT_RING}_lost_samples`); } catch { return; }
    const sum = readPerCpuCounter(native, fd);
    if (sum > s.lostSeen) {
      s.ds.reportLost(Number(sum - s.lostSeen), 'snapshot ring buffer full');
      s.lostSeen = sum;
    }
  }

  private pollLost(): void {
    if (!this.obj || !this.loaded) return;
    for (const t of this.tracers) {
      const st = t.reader ? native.readerStats(t.reader) : undefined;
      if (st?.outputError) {
        // A reader that went away (`ig run ... | head`) ends the run quietly, as on the JS path.
        if (st.outputErrno === 32 /* EPIPE */) this.ctx.done('stdout closed');
        else { this.ctx.log.error(`${t.ds.name}: cannot write output: ${st.outputError}`); this.ctx.done('error'); }
        return;
      }
      if (!t.lostMap) continue;
      let fd: number;
      try { fd = native.mapFd(this.obj, t.lostMap); } catch { t.lostMap = undefined; continue; }
      const v = native.mapLookup(fd, Buffer.alloc(4), 8);
      if (!v) continue;
      let sum = 0n;
      for (let o = 0; o + 8 <= v.length; o += 8) sum += v.readBigUInt64LE(o);
      if (sum > t.lostSeen) {
        t.ds.reportLost(Number(sum - t.lostSeen), 'ring buffer full');
        t.lostSeen = sum;
      }
    }
  }

  async stop(ctx: GadgetContext): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const t of this.immediates) clearImmediate(t);
    this.immediates = [];
    // Detach first so nothing new arrives, then drain readers, then a last look at the lost counters.
    for (const l of this.links.splice(0)) { try { native.linkDestroy(l); } catch { /* already gone */ } }
    for (const fd of this.sockets.splice(0)) { try { native.closeFd(fd); } catch { /* closed */ } }
    for (const c of this.cleanups.splice(0)) c();
    for (const f of this.socketFilters.splice(0)) f.close();
    for (const t of this.tracers) {
      if (!t.reader) continue;
      const r = t.reader;
      t.reader = undefined;
      const st = native.readerStop(r);
      if (st.lost > 0) t.ds.reportLost(st.lost, 'perf buffer full');
      if (st.rendered !== undefined) ctx.log.debug(`${t.ds.name}: ${st.rendered} records rendered on the reader thread, ${st.records} by JS`);
    }
    // Batches flushed by readerStop reach JS through the event loop: let them through before closing.
    await new Promise((r) => setImmediate(r));
    this.pollLost();
    if (this.obj) {
      for (const it of this.loaded ? this.mapIters : []) {
        if (!it.flushOnStop) continue;
        try { this.fetchMap(it, this.obj); } catch (e) { ctx.log.warn(`${it.ds.name}: final fetch failed: ${(e as Error).message}`); }
      }
      for (const s of this.loaded ? this.snapshots : []) {
        if (!s.fetchOnStop) continue;
        try {
          const { batch } = takeSnapshot(native, this.obj, s);
          s.ds.emit(batch);
        } catch (e) { ctx.log.warn(`${s.ds.name}: final fetch failed: ${(e as Error).message}`); }
      }
      ctx.offers.withdrawLoadedMaps();
      native.close(this.obj);
      this.obj = undefined;
      this.loaded = false;
    }
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
