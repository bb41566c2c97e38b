// The eBPF image operator: reads the gadget's ELF (BTF markers → data sources, params and the names other
// operators may offer), then at start loads it as one BpfObject and runs its parts around that object:
//   loader.ts    open, params and offered names, load, attach
//   tracer.ts    GADGET_TRACER data sources: ring/perf readers (or a render consumer's reader)
//   mapiter.ts   GADGET_MAPITER data sources: map fetches
//   snapshots.ts GADGET_SNAPSHOTTER / GADGET_ITER data sources: BPF iterators, or programs run on demand
import { readFileSync } from 'node:fs';
import { Btf } from '../../bpf/btf/btf.js';
import { ElfFile } from '../../bpf/btf/elf.js';
import type { EnumInfo, VarInfo } from '../../bpf/btf/model.js';
import { mapBtf } from '../../bpf/btf/maps.js';
import type { BpfObject } from '../../bpf/object.js';
import { mountBpfFilesystems } from '../../bpf/mounts.js';
import { MapType } from '../../bpf/constants.js';
import { GadgetContext, GadgetError } from '../../gadget/context.js';
import type { OperatorInstance } from '../../gadget/operator.js';
import type { ParamDesc } from '../../gadget/params.js';
import { attachAll, configureObject, loadObject, openObject } from './loader.js';
import type { NetnsSocketFilter } from './socketfilter.js';
import { Snapshots } from './snapshots.js';
import { MapIterators } from './mapiter.js';
import { Tracers } from './tracer.js';
import { addStackFields } from './stacks.js';
import { addSyscallFields } from './syscalls.js';
import { addStructFields } from './fields.js';
import { ebpfParam, EBPF_PREFIX, type EbpfParam } from './params.js';
import { registerRunningGadget } from './running.js';
import { configurePacketFilters, packetFilterNames, packetFilterParams } from './packetfilter.js';
import { ContainerTc, type TcProgram } from './tcattach.js';
import { ContainerUprobes, HOST, type UprobeProgram } from './uprobes.js';
import type { MountTarget } from '../../gadget/mounts.js';
import { replaySink } from './replay.js';
import type { RecordedRows, ReplayFeed } from '../../gadget/recording.js';
import { everySecond } from '../../runtime/second-tick.js';


export class EbpfOperator implements OperatorInstance {
  readonly name = 'ebpf';
  private readonly btf: Btf;
  private readonly tracers: Tracers;
  private readonly mapIters: MapIterators;
  private readonly snapshots: Snapshots;
  private readonly ebpfParams: EbpfParam[] = [];
  /** The one owner of every kernel object of this gadget (links, readers, maps); set from load to close. */
  private obj?: BpfObject;
  private socketFilters: NetnsSocketFilter[] = [];
  private cleanups: (() => void)[] = [];
  private lostTimer?: () => void; // leaves the shared tick
  private kernelEnums = new Map<string, EnumInfo | undefined>();
  /** The object's GADGET_PF splice points: asked for the params and again at every configure (a BTF scan each). */
  private pfNames?: string[];
  /** `ig replay`: the feed delivering recorded batches, until it ends. */
  private replaying?: Promise<void>;
  private readonly replayStop = new AbortController();

  constructor(private readonly ctx: GadgetContext, private readonly elf: Buffer) {
    try {
      this.btf = Btf.fromElf(elf);
    } catch (e) {
      throw new GadgetError(`gadget ${ctx.name}: invalid eBPF object: ${(e as Error).message}`);
    }
    this.tracers = new Tracers(ctx);
    this.mapIters = new MapIterators(ctx);
    this.snapshots = new Snapshots(ctx);
    this.buildDataSources();
    this.buildParams();
    // A replay loads nothing: no operator may offer maps (and create kernel objects) for it.
    if (!ctx.replay) this.declareNames();
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
      // No kernel BTF (or no such enum there): the values stay numbers.
      try { info = Btf.kernel().enumByName(name); } catch { info = undefined; }
      this.kernelEnums.set(name, info);
    }
    return this.kernelEnums.get(name);
  };

  private buildDataSources(): void {
    const m = this.btf.markers();
    const gadget = this.ctx.name;
    const structLayout = (what: string, struct: string) => {
      try { return this.btf.structLayout(struct); } catch { throw new GadgetError(`gadget ${gadget}: ${what}: struct ${struct} is not in the object's BTF`); }
    };
    for (const t of m.tracers) {
      const ds = this.ctx.addDataSource(t.name, 'single');
      const layout = structLayout(`tracer ${t.name}`, t.struct);
      ds.staticSize = layout.size;
      addStructFields(ds, layout, { kernelEnum: this.kernelEnum });
      this.tracers.add(ds, t.map, m.pacedRings?.includes(t.map) ?? false);
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
      this.mapIters.add(ds, it.map, mb.keySize!, mb.valueSize!);
    }
    this.snapshots.setTargetMaps(m.iterTargetMaps);
    for (const it of m.iters) {
      // Snapshotters: records of `struct <it.struct>` (see snapshots.ts for how they are produced).
      const ds = this.ctx.addDataSource(it.name, 'array');
      const layout = structLayout(`snapshotter ${it.name}`, it.struct);
      ds.staticSize = layout.size;
      addStructFields(ds, layout, { kernelEnum: this.kernelEnum });
      this.snapshots.add(ds, it.programs);
    }
    const stackEnv = {
      map: (name: string) => this.obj?.findMap(name),
      warn: (msg: string) => this.ctx.log.warn(msg),
      facts: this.ctx.facts,
    };
    for (const ds of this.ctx.dataSources.values()) {
      addStackFields(ds, stackEnv);
      try { addSyscallFields(ds); } catch (e) { throw new GadgetError(`gadget ${gadget}: ${(e as Error).message}`); }
    }
  }

  private packetFilters(): string[] {
    return (this.pfNames ??= packetFilterNames(this.btf));
  }

  private buildParams(): void {
    for (const v of this.btf.markers().params) {
      const info: VarInfo | undefined = this.btf.varInfo(v);
      if (!info) throw new GadgetError(`gadget ${this.ctx.name}: GADGET_PARAM(${v}) names a variable that does not exist`);
      this.ebpfParams.push(ebpfParam(v, info, this.ctx.metadata.ebpfParams[v]));
    }
  }

  params(): ParamDesc[] {
    const out: ParamDesc[] = [...this.ebpfParams.map((p) => p.desc), ...this.mapIters.params(), ...packetFilterParams(this.packetFilters())];
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
    if (ctx.replay) { const feed = ctx.claimReplay(); if (feed) this.startReplay(ctx, feed); return; }
    const rec = ctx.recording;
    if (rec) {
      const sources = [...this.tracers.list, ...this.mapIters.list, ...this.snapshots.list].map((x) => x.ds);
      for (const ds of sources) ds.onLost((n, cause) => rec.lost(ds.name, n, cause));
    }
    mountBpfFilesystems();
    this.mapIters.plan();
    performance.mark('ig:start');
    let obj = openObject(ctx, this.elf);
    this.obj = obj;
    performance.mark('ig:opened');
    // Snapshot programs are not attached by attachAll: on-demand ones never, iterators by the snapshotter at start.
    const onDemand = this.snapshots.onDemand(new Map(obj.programs().map((p) => [p.name, p.section] as const)));
    const configure = (o: BpfObject) => {
      configureObject(ctx, o, this.ebpfParams, this.btf.markers().vars);
      configurePacketFilters(ctx, o, this.packetFilters());
      this.tracers.configure(o);
    };
    configure(obj);
    try {
      loadObject(ctx, obj);
    } catch (e) {
      if (!obj.usesCoreBtfFile) throw e;
      // A minimized kernel BTF (the daemon's cache) that lacks something: once more with vmlinux's.
      ctx.log.debug(`gadget ${ctx.name}: load with a minimized kernel BTF failed (${(e as Error).message}); loading with the kernel's`);
      obj.reportCoreBtfFailure();
      obj.close();
      obj = openObject(ctx, this.elf, { vmlinuxBtf: true });
      this.obj = obj;
      configure(obj);
      loadObject(ctx, obj);
    }
    performance.mark('ig:loaded');
    // Publish the loaded maps by name (upstream's "map:<name>" vars): a WASM module's getMap reads them.
    for (const m of obj.maps()) if (!m.internal) ctx.offers.publishLoadedMap(m.name, obj.map(m.name));
    const tcPrograms: TcProgram[] = [];
    const uprobePrograms: UprobeProgram[] = [];
    attachAll(ctx, obj, onDemand, this.socketFilters, tcPrograms, uprobePrograms);
    if (tcPrograms.length > 0) this.attachTc(ctx, obj, tcPrograms);
    if (uprobePrograms.length > 0) this.attachUprobes(ctx, obj, uprobePrograms);
    this.cleanups.push(registerRunningGadget(ctx, obj));
    if (ctx.log.enabled('debug')) this.logLoaded(ctx, obj, onDemand);
    this.followContainerNetns(ctx);
    performance.mark('ig:attached');
    this.tracers.start(obj);
    this.mapIters.start(obj);
    this.snapshots.start(obj, this.tracers.list.length === 0 && this.mapIters.list.length === 0);
    // Lost counters are read on the shared 1 s tick (ref'd, as its own interval was): warnings within ~1 s.
    this.lostTimer = everySecond(() => this.tracers.pollLost(obj), { ref: true });
  }

  /** -v: what is in the kernel now: programs and where they are attached, ring buffer sizes. */
  private logLoaded(ctx: GadgetContext, obj: BpfObject, onDemand: Set<string>): void {
    for (const p of obj.programs()) {
      if (p.autoload === false) continue;
      ctx.log.debug(`program ${p.name}: loaded, ${onDemand.has(p.name) ? 'run on demand' : `attached at ${p.section}`}`);
    }
    for (const m of obj.maps()) {
      const t = this.tracers.list.find((x) => x.map === m.name);
      if (t) ctx.log.debug(`${t.ds.name}: ${m.type === MapType.Ringbuf ? `ring buffer ${m.name} of ${m.maxEntries / 1024} KiB` : `perf buffer ${m.name}`}`);
    }
  }

  /** TC programs: on --iface, else on the host ends of the selected containers' veths as containers come and go. */
  private attachTc(ctx: GadgetContext, obj: BpfObject, progs: TcProgram[]): void {
    const tc = new ContainerTc(obj, progs, ctx.log);
    this.cleanups.push(() => tc.close());
    const iface = ctx.params.get(EBPF_PREFIX + 'iface') || undefined;
    if (iface) {
      let ifindex: number;
      try { ifindex = Number(readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8')); } catch { throw new GadgetError(`gadget ${ctx.name}: --iface ${iface}: no such network interface`); }
      try { tc.addInterface(ifindex); } catch (e) { throw new GadgetError(`gadget ${ctx.name}: TC on ${iface}: ${(e as Error).message}`); }
      return;
    }
    const add = (path: string) => {
      try { tc.add(path); } catch (e) { ctx.log.warn(`TC: cannot attach for ${path}: ${(e as Error).message}`); }
    };
    for (const path of ctx.netns.paths) if (path) add(path);
    this.cleanups.push(ctx.netns.onAdd(add), ctx.netns.onRemove((ino) => tc.remove(ino)));
    if (tc.attachedNamespaces === 0) {
      ctx.log.warn(`gadget ${ctx.name}: no --iface and no matching container yet: the TC programs attach to containers as they start (--iface <name> captures on an interface)`);
    }
  }

  /**
   * Uprobes on the host's files (unless a container operator selected containers only) and on each selected
   * container's, following containers that start and stop while the gadget runs (ctx.mounts announces them).
   */
  private attachUprobes(ctx: GadgetContext, obj: BpfObject, progs: UprobeProgram[]): void {
    const up = new ContainerUprobes(obj, progs, ctx.log, ctx.name);
    this.cleanups.push(() => up.close());
    if (ctx.mounts.host) up.add(HOST, 'host', '');
    const add = (t: MountTarget) => {
      try { up.add(t.key, t.name, `/proc/${t.pid}/root`); } catch (e) { ctx.log.warn(`gadget ${ctx.name}: uprobes in container ${t.name}: ${(e as Error).message}`); }
    };
    for (const t of ctx.mounts.containers) add(t);
    this.cleanups.push(ctx.mounts.onAdd(add), ctx.mounts.onRemove((key) => up.remove(key)));
    ctx.log.debug(`uprobes: ${up.linkCount} link(s) for ${ctx.mounts.host ? 'the host and ' : ''}${ctx.mounts.containers.length} container(s)`);
  }

  /** Socket filters follow containers that start and stop while the gadget runs (ctx.netns announces them). */
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

  /** Emit the recorded batches of this gadget's data sources once every operator has started; end the run after. */
  private startReplay(ctx: GadgetContext, feed: ReplayFeed): void {
    // A consumer that pauses a data source (the library's iterator) holds the whole feed: entries stay in order.
    let gate: { wait: Promise<void>; open: () => void } | undefined;
    const flow = {
      pause: (p: boolean) => {
        if (p && !gate) { let open!: () => void; const wait = new Promise<void>((r) => { open = r; }); gate = { wait, open }; }
        if (!p && gate) { const g = gate; gate = undefined; g.open(); }
      },
    };
    for (const ds of ctx.dataSources.values()) ds.setFlowControl(flow);
    const sink = { ...replaySink(ctx, this.tracers.list.map((t) => t.ds)), hold: () => gate?.wait, rows: (ds: string, t: RecordedRows) => ctx.replayRows.get(ds)?.(t) };
    const stopped = this.replayStop.signal;
    stopped.addEventListener('abort', () => flow.pause(false), { once: true });
    ctx.signal.addEventListener('abort', () => this.replayStop.abort(), { once: true });
    this.replaying = ctx.whenStarted
      .then(() => (stopped.aborted ? undefined : feed.run(sink, stopped)))
      .then(() => {
        if (feed.stopped) ctx.log.warn(feed.stopped);
        ctx.done('end of recording');
      }, (e: Error) => ctx.fail(e));
  }

  async stop(): Promise<void> {
    if (this.replaying) { this.replayStop.abort(); await this.replaying; return; }
    this.lostTimer?.();
    this.lostTimer = undefined;
    this.mapIters.stopTimers();
    this.snapshots.stopTimers();
    const obj = this.obj;
    // Detach first so nothing new arrives, then drain readers, then a last look at the lost counters.
    for (const l of obj?.links ?? []) {
      // A link that cannot be destroyed now is destroyed again by obj.close() below, which reports its error.
      try { l.destroy(); } catch (e) { this.ctx.log.debug(`detaching ${l.description}: ${(e as Error).message}`); }
    }
    for (const c of this.cleanups.splice(0)) c();
    for (const f of this.socketFilters.splice(0)) f.close();
    this.tracers.stopReaders();
    // Batches flushed by the readers' stop reach JS through the event loop: let them through before closing.
    await new Promise((r) => setImmediate(r));
    if (!obj) return;
    if (obj.loaded) {
      this.tracers.pollLost(obj);
      this.mapIters.finish();
      this.snapshots.finish();
    }
    this.obj = undefined;
    this.ctx.offers.withdrawLoadedMaps();
    obj.close();
  }
}
