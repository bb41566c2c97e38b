// A BPF ELF object: open, configure, load, attach, read. It owns the links and readers made
// through it and releases them all on close(). No gadget policy lives here.
import { Link } from './link.js';
import { BpfMap } from './map.js';
import { native } from './native.js';
import type { LinkHandle, MapInfo, ObjectHandle, ProgramInfo } from './native-api.js';
import { PerfReader, RingReader, type BatchCallback, type PerfReaderOptions, type ReaderOptions } from './reader.js';
import { MapType } from './constants.js';

export { ProgType, PerfType, PerfSwConfig } from './constants.js';
export type { MapInfo, ProgramInfo } from './native-api.js';

export interface UprobeOptions {
  binaryPath: string;
  /** Symbol resolved by libbpf in binaryPath; omit to use `offset` alone. */
  func?: string;
  offset?: number;
  retprobe?: boolean;
  /** -1 (default) = all processes. */
  pid?: number;
}

export interface PerfEventOptions {
  type: number;
  config: number;
  freq?: number;
  period?: number;
  cpu: number;
  pid?: number;
}

type AnyReader = RingReader | PerfReader;

/**
 * Where the CO-RE relocations of an in-memory object read kernel types from instead of all of
 * /sys/kernel/btf/vmlinux: a file with only the types that object needs, or undefined (vmlinux). Set by `ig run`
 * and the daemon (the store's cache, src/runtime/core-btf-store.ts): libbpf's parsing of vmlinux's
 * BTF was most of a load's time (~200 of 250 ms for trace_open on a loaded machine).
 */
export interface CoreBtfSource {
  lookup(elf: Buffer): string | undefined;
  /** A load with the file of `elf` failed: do not hand it out again. */
  failed(elf: Buffer): void;
}
let coreBtfSource: CoreBtfSource | undefined;

export function setCoreBtfSource(src: CoreBtfSource | undefined): void {
  coreBtfSource = src;
}

export class BpfObject {
  #h: ObjectHandle | null;
  #loaded = false;
  readonly #links = new Set<Link>();
  readonly #readers = new Set<AnyReader>();
  readonly #maps = new Map<string, BpfMap>();

  private constructor(h: ObjectHandle, readonly name: string) {
    this.#h = h;
  }

  /** Open an ELF object from a file path or an in-memory image. */
  static open(src: string | Buffer, name?: string, opts: { vmlinuxBtf?: boolean } = {}): BpfObject {
    const n = name ?? (typeof src === 'string' ? src.replace(/^.*\//, '').replace(/\.o$/, '').replace(/\.bpf$/, '') : 'object');
    const btf = typeof src === 'string' || opts.vmlinuxBtf ? undefined : coreBtfSource?.lookup(src);
    const o = new BpfObject(native.open(src, n, btf), n);
    if (btf) o.coreBtfOf = src as Buffer;
    return o;
  }

  /**
   * Open with `open(false)` (a minimized kernel BTF, when one is kept for the image) and load; a load that fails
   * with a minimized BTF reports that BTF and is done once more from `open(true)` (vmlinux's). Returns the loaded
   * object; one whose load failed is closed.
   */
  static openLoaded(open: (vmlinuxBtf: boolean) => BpfObject): BpfObject {
    let obj = open(false);
    try {
      try {
        obj.load();
      } catch (e) {
        if (!obj.usesCoreBtfFile) throw e;
        obj.reportCoreBtfFailure(); // a minimized BTF that lacks something: once more with vmlinux's
        obj.close();
        obj = open(true);
        obj.load();
      }
      return obj;
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /** The image whose minimized kernel BTF this object was opened with (see setCoreBtfSource). */
  private coreBtfOf: Buffer | undefined;

  /** Opened with a minimized kernel BTF: a failed load should be retried with vmlinux's (retryWithVmlinuxBtf). */
  get usesCoreBtfFile(): boolean { return this.coreBtfOf !== undefined; }

  /** After a failed load with a minimized BTF: that file is not handed out again. */
  reportCoreBtfFailure(): void {
    if (this.coreBtfOf) coreBtfSource?.failed(this.coreBtfOf);
  }

  get handle(): ObjectHandle {
    if (!this.#h) throw new Error(`bpf object ${this.name} is closed`);
    return this.#h;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  get closed(): boolean {
    return this.#h === null;
  }

  // ---- before load ----

  /** Set a .rodata/.data/.bss variable; a shorter value is zero-padded. */
  setVar(varName: string, value: Buffer): this {
    native.setVar(this.handle, varName, value);
    return this;
  }

  /**
   * Packet filters (src/bpf/pcap-filter.ts) for the gadget_pf_<name>() functions of the "classifier/" programs,
   * spliced in while the object loads. Name "" is GADGET_PF() without a name.
   */
  setPacketFilters(filters: { name: string; insns: Buffer }[]): this {
    native.setPacketFilters(this.handle, filters);
    return this;
  }

  setMapMaxEntries(map: string, n: number): this {
    native.setMapMaxEntries(this.handle, map, n);
    return this;
  }

  setMapType(map: string, type: number): this {
    native.setMapType(this.handle, map, type);
    return this;
  }

  /** Use an existing map (its fd stays the caller's) instead of creating the declared one. */
  reuseMapFd(map: string, fd: number): this {
    native.reuseMapFd(this.handle, map, fd);
    return this;
  }

  /** Use `owner`'s map in place of the declared `map` (the owner keeps it and closes it after this object). */
  reuseMap(map: string, owner: BpfMap): this {
    return this.reuseMapFd(map, owner.fd);
  }

  /** Set a program's type before load (sections libbpf does not know: "socket1", "perf_event/<name>"). */
  setProgramType(prog: string, type: number): this {
    native.setProgramType(this.handle, prog, type);
    return this;
  }

  setAutoload(prog: string, on: boolean): this {
    native.setAutoload(this.handle, prog, on);
    return this;
  }

  setAutoattach(prog: string, on: boolean): this {
    native.setAutoattach(this.handle, prog, on);
    return this;
  }

  /** Load into the kernel. A verifier rejection throws an Error with `.log` and `.errno`. */
  load(): this {
    native.load(this.handle);
    this.#loaded = true;
    return this;
  }

  // ---- introspection ----

  maps(): MapInfo[] {
    return native.maps(this.handle);
  }

  programs(): ProgramInfo[] {
    return native.programs(this.handle);
  }

  btf(): Buffer | null {
    return native.btf(this.handle);
  }

  mapFd(map: string): number {
    return native.mapFd(this.handle, map);
  }

  progFd(prog: string): number {
    return native.progFd(this.handle, prog);
  }

  /** Run a loaded program once (BPF_PROG_TEST_RUN) with an optional ctx; returns the program's return value. */
  testRun(prog: string, ctx: Buffer | null = null): number {
    return native.progTestRun(this.handle, prog, ctx);
  }

  /** Run a loaded program once on packet bytes (BPF_PROG_TEST_RUN data_in); returns its return value. */
  testRunData(prog: string, data: Buffer): number {
    return native.progTestRunData(this.handle, prog, data);
  }

  /** The map if the loaded object has it, else undefined (e.g. an optional lost-samples counter, a stack map). */
  findMap(name: string): BpfMap | undefined {
    if (!this.#loaded || this.#h === null) return undefined;
    const known = this.#maps.get(name);
    if (known) return known;
    return this.maps().some((m) => m.name === name) ? this.map(name) : undefined;
  }

  /** A map of the loaded object (not owned: valid until close()). */
  map(name: string): BpfMap {
    let m = this.#maps.get(name);
    if (!m) {
      const fd = this.mapFd(name);
      if (fd < 0) throw new Error(`map ${name} of object ${this.name}: object not loaded`);
      m = new BpfMap(fd, false);
      this.#maps.set(name, m);
    }
    return m;
  }

  // ---- attach ----

  #track(h: LinkHandle, description: string): Link {
    const link = new Link(h, description, (l) => this.#links.delete(l));
    this.#links.add(link);
    return link;
  }

  get links(): readonly Link[] {
    return [...this.#links];
  }

  /**
   * Run an iterator program (SEC("iter/task") ...) once, now, over everything it walks: for programs whose work
   * is what they write into maps. Returns the bytes it printed (read and dropped).
   */
  runIterator(prog: string): number {
    return native.iterRun(this.handle, prog);
  }

  /**
   * Attach an iterator program (SEC("iter/<target>")) for reading later with Link.readIterator; `mapFd`: the map
   * an iter/bpf_map_elem program walks. Throws with the kernel's reason when it refuses the target.
   */
  attachIter(prog: string, mapFd = -1): Link {
    return this.#track(native.attachIter(this.handle, prog, mapFd), `${prog} iterator`);
  }

  /** Attach as the program's section name says (bpf_program__attach). */
  attachAuto(prog: string): Link {
    return this.#track(native.attachAuto(this.handle, prog), `${prog} (auto)`);
  }

  attachTracepoint(prog: string, category: string, name: string): Link {
    return this.#track(native.attachTracepoint(this.handle, prog, category, name), `${prog} tracepoint ${category}/${name}`);
  }

  attachRawTracepoint(prog: string, name: string): Link {
    return this.#track(native.attachRawTracepoint(this.handle, prog, name), `${prog} raw_tp ${name}`);
  }

  attachKprobe(prog: string, func: string, retprobe = false): Link {
    return this.#track(native.attachKprobe(this.handle, prog, func, retprobe), `${prog} ${retprobe ? 'kretprobe' : 'kprobe'} ${func}`);
  }

  attachUprobe(prog: string, o: UprobeOptions): Link {
    const h = native.attachUprobe(this.handle, prog, o.binaryPath, o.func ?? '', o.offset ?? 0, o.retprobe ?? false, o.pid ?? -1);
    return this.#track(h, `${prog} ${o.retprobe ? 'uretprobe' : 'uprobe'} ${o.binaryPath}:${o.func ?? ''}+${o.offset ?? 0}`);
  }

  attachPerfEvent(prog: string, o: PerfEventOptions): Link {
    return this.#track(native.attachPerfEvent(this.handle, prog, o), `${prog} perf_event type ${o.type} config ${o.config} cpu ${o.cpu}`);
  }

  /** One cpu-clock (or other) perf event per possible CPU; CPUs that are offline are skipped. */
  attachPerfEventAllCpus(prog: string, o: Omit<PerfEventOptions, 'cpu'>): Link[] {
    const links: Link[] = [];
    const n = native.numPossibleCpus();
    for (let cpu = 0; cpu < n; cpu++) {
      try {
        links.push(this.attachPerfEvent(prog, { ...o, cpu }));
      } catch (err) {
        if ((err as { code?: string }).code === 'ENODEV') continue; // offline CPU
        for (const l of links) l.destroy();
        throw err;
      }
    }
    return links;
  }

  /** SO_ATTACH_BPF on a socket; the socket's owner keeps it (closing the socket detaches). */
  attachSocketFilter(prog: string, sockFd: number): void {
    native.attachSocketFilter(this.handle, prog, sockFd);
  }

  attachTc(prog: string, ifindex: number, egress = false): Link {
    return this.#track(native.attachTc(this.handle, prog, ifindex, egress), `${prog} tc ${egress ? 'egress' : 'ingress'} ifindex ${ifindex}`);
  }

  // ---- readers ----

  get readers(): readonly AnyReader[] {
    return [...this.#readers];
  }

  #trackReader<R extends AnyReader>(r: R): R {
    this.#readers.add(r);
    r.onStop = (x) => this.#readers.delete(x as AnyReader);
    try {
      r.start();
    } catch (err) {
      this.#readers.delete(r);
      throw err;
    }
    return r;
  }

  /** Start a ring buffer reader on one of this object's maps. */
  openRingReader(map: string, cb: BatchCallback, opts: ReaderOptions = {}): RingReader {
    return this.#trackReader(new RingReader(this.map(map).fd, cb, opts));
  }

  /** Start a perf buffer reader on one of this object's maps. */
  openPerfReader(map: string, cb: BatchCallback, opts: PerfReaderOptions = {}): PerfReader {
    return this.#trackReader(new PerfReader(this.map(map).fd, cb, opts));
  }

  /** A ring or perf buffer reader, as the map's type says. */
  openReader(map: string, cb: BatchCallback, opts: PerfReaderOptions = {}): AnyReader {
    return this.map(map).type === MapType.PerfEventArray ? this.openPerfReader(map, cb, opts) : this.openRingReader(map, cb, opts);
  }

  /**
   * Stop readers (delivering what they hold), destroy links, close the object. Idempotent. Every
   * step runs even if an earlier one throws; the first error is rethrown at the end.
   */
  close(): void {
    const h = this.#h;
    if (!h) return;
    let first: unknown;
    for (const r of [...this.#readers]) {
      try {
        r.stop();
      } catch (err) {
        first ??= err;
      }
    }
    this.#readers.clear();
    for (const l of [...this.#links]) {
      try {
        l.destroy();
      } catch (err) {
        first ??= err;
      }
    }
    this.#links.clear();
    this.#maps.clear();
    this.#h = null;
    native.close(h);
    if (first !== undefined) throw first;
  }
}
