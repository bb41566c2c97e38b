// The contract between TypeScript and the C addon (native/). The addon is thin and handle-based:
// every handle is an opaque napi_external; nothing here holds policy.

/** Opaque handles owned by the addon. Each must be released explicitly (close/destroy/stop). */
export type ObjectHandle = { readonly __brand: 'bpf_object' };
export type LinkHandle = { readonly __brand: 'bpf_link' };
export type ReaderHandle = { readonly __brand: 'reader' };
export type PerfDrainHandle = { readonly __brand: 'perfDrain' };
/** A compiled JSON render plan (native/src/render_plan.c; built by src/operators/cli/native-plan.ts). */
export type RenderPlanHandle = { readonly __brand: 'render_plan' };
/** A per-key metrics aggregator (native/src/metrics_agg.c; built by src/bpf/metrics-aggregator.ts). */
export type MetricsAggregatorHandle = { readonly __brand: 'metrics_aggregator' };
export type WireBatchHandle = { readonly __brand: 'wire_batch' };
export type RecorderHandle = { readonly __brand: 'recorder' };
/** A replay loop (native/src/replay_loop.c; owned by src/bpf/replay-loop.ts). */
export type ReplayLoopHandle = { readonly __brand: 'replay_loop' };

/** What a drain of a metrics aggregator returns (see metricsAggDrain). */
export interface MetricsAggregatorDrain {
  /** Slot id of the first key in `keys`. */
  firstId: number;
  /** How many keys are new (slots firstId … firstId + newKeys - 1). */
  newKeys: number;
  /** The key bytes of the slots new since the last drain, key length each. */
  keys: Buffer;
  /** Per slot touched since the last drain: [slot, number of its last record, cell…]: sums since then, last values of gauges. */
  deltas: Float64Array;
  /** Records counted so far, of them shorter than the spec (read zero-padded), of keys past the key limit (not counted). */
  records: number;
  short: number;
  overflow: number;
}

export interface MapInfo {
  name: string;
  type: number;          // enum bpf_map_type
  keySize: number;
  valueSize: number;
  maxEntries: number;
  fd: number;            // -1 before load
  internal?: boolean;    // .rodata/.data/.bss/.kconfig map made by libbpf (name is "<obj>.rodata" etc.)
}

/** What the kernel says about a map fd (mapInfo). */
export interface MapFdInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;     // one element; per-CPU maps carry round_up(valueSize, 8) * numPossibleCpus() bytes per entry
  maxEntries: number;
  flags: number;
  id: number;
  fd: number;
}

export interface ProgramInfo {
  name: string;
  section: string;       // e.g. "tracepoint/syscalls/sys_enter_openat"
  type: number;          // enum bpf_prog_type (after open, as libbpf guessed it from the section)
  fd: number;            // -1 before load
  autoload?: boolean;
}

export interface ReaderStats {
  records: number;       // records handed to JS
  batches: number;       // batches handed to JS
  polls?: number;        // consumes of the poll thread that took records (its wake-ups with work)
  lingerPeakUs?: number; // the longest linger it slept (lingerMaxUs: how far it grew)
  lingersSkipped?: number; // lingerMaxUs: consumes of a sparse stream not followed by a linger (one wake-up per record)
  pacedTimeouts?: number; // paced: consumes on the reader's own clock that found records (the rest came by wake-ups)
  lost: number;          // perf buffer: lost samples reported by the kernel; ring buffer: 0 (counted in BPF)
  error?: string;        // set after stop when the poll thread ended on an error
  rendered?: number;     // render mode: records the poll thread rendered itself
  renderedInPlace?: number; // memoRequests: of those, records rendered after JS filled their memos (BATCH_MEMO)
  outputError?: string;  // render mode: the output fd failed (e.g. EPIPE); output is discarded from then on
  outputErrno?: number;  // its errno
  aggregated?: number;   // aggregate mode: records counted by the metrics aggregator on the poll thread
  batchBlocks?: number;  // full-size batch buffers the reader obtained from the system (the rest were reused)
}

export interface ReaderOptions {
  maxBatchBytes?: number;   // default 1 MiB
  maxLatencyMs?: number;    // flush a partial batch this long after its first record; default 1
  lingerUs?: number;        // sleep after a non-empty poll so records pile up; default 1000
  lingerMaxUs?: number;     // ring readers: a linger that found records doubles the next, up to this; default lingerUs
  queue?: number;           // max batches queued to JS before the poll thread blocks; default 8
  /**
   * Ring readers: the ring is paced (include/gadget/buffer.h, marker gadget_ringbuf_paced_<map>): its producer wakes
   * the reader at fill levels and at most every ~75 ms, not per record. The reader then takes the ring at each
   * wake-up without a linger, and 80 ms after it last took records (what came unwoken), so a record is read at most
   * ~90 ms after it was written. The linger options do not apply.
   */
  paced?: boolean;
  /**
   * Render mode: the poll thread writes each record as a JSON line to `outFd` (default 1) with this plan. A record
   * it cannot render (memo miss) and the rest of that poll go to `cb` as usual, and the thread waits until the
   * callback has returned; the callback writes its lines with readerWriteOut.
   */
  render?: RenderPlanHandle;
  outFd?: number;
  /**
   * Render mode: a record that misses a memo goes to `cb` as kind BATCH_MEMO (with the rest of that poll): the
   * callback only fills the plan's memos, and the thread then renders those records itself, in order. A record that
   * still misses then (or one no memo can serve: a wide column cell) goes to `cb` as records, as without this.
   */
  memoRequests?: boolean;
  /** Render mode: bytes written to `outFd` before any line (a columns header), before the poll thread starts. */
  preamble?: Buffer;
  /** Aggregate mode (exclusive with render): every record is counted per key by this aggregator; none reaches cb. */
  aggregate?: MetricsAggregatorHandle;
  /**
   * Wire mode (exclusive with render and aggregate): the poll thread writes the records as batch frames of the
   * packet codec with this writer's memos and hands `cb` one frame per batch (kind BATCH_FRAME). A record with a
   * memo miss and the rest of that poll go to `cb` as records (kind 0), after the frame so far, and the thread waits
   * until the callback has returned (it fills the memos).
   */
  wire?: WireBatchHandle;
  /** Wire mode: (u32 record offset, u32 0, u64 addend) entries: boot-clock u64s rewritten to wall clock (0 stays). */
  wireClock?: Buffer;
  /** Ring buffers: advance over records without reading them and call no callback (benchmark floor). */
  discard?: boolean;
  /** Record mode (not with render or aggregate): every batch goes to this recorder as data source `recordDs`; none reaches cb. */
  record?: RecorderHandle;
  recordDs?: number;
}

/** What a recorder has written (recorderStats, recorderClose). */
export interface RecorderStats {
  /** Batches and records appended by readers in record mode. */
  batches: number;
  records: number;
  chunks: number;
  bytes: number;
  files: number;
  /** Set once a write failed: the recorder writes nothing more. */
  errno?: number;
  error?: string;
}

export interface RecorderOptions {
  /** 0 none, 1 raw deflate, 3 zstd (default). */
  codec?: number;
  /** zstd level (default 1). */
  level?: number;
  chunkBytes?: number;
  flushMs?: number;
  /** 0: no limit. */
  maxFileBytes?: number;
  maxFiles?: number;
}

/**
 * A batch: records laid out as [u32 len][u32 cpu-or-0][payload padded to 8] ... in `buf`.
 * `buf` is an external Buffer (zero-copy; freed by its finaliser). `count` is the number of records.
 */
export type BatchCallback = (buf: Buffer, count: number, kind: BatchKind) => void;

/**
 * 0: records to process. 1 (render mode): records only for their stale memo fragments, already printed. 2 (wire
 * mode): `buf` is one batch frame of the packet codec holding `count` records. 3 (render mode, memoRequests):
 * records the plan missed on: fill the memos only; the poll thread renders them once the callback has returned.
 */
export type BatchKind = 0 | 1 | 2 | 3;
export const BATCH_REFRESH = 1;
export const BATCH_FRAME = 2;
export const BATCH_MEMO = 3;

export interface NativeAddon {
  libbpfVersion(): string;
  numPossibleCpus(): number;
  /** Echo every libbpf message (debug level included) to stderr. Also enabled by IG_LIBBPF_DEBUG=1. */
  setDebug(on: boolean): void;

  /** Open an ELF object from a path or an in-memory buffer. Throws Error with a libbpf message. */
  open(src: string | Buffer, name: string, btfCustomPath?: string): ObjectHandle;
  /** Write `value` into the .rodata (or .kconfig/.data/.bss) variable `varName` before load. Throws if absent or sizes differ (shorter value is zero-padded). */
  setVar(h: ObjectHandle, varName: string, value: Buffer): void;
  maps(h: ObjectHandle): MapInfo[];
  programs(h: ObjectHandle): ProgramInfo[];
  setMapMaxEntries(h: ObjectHandle, map: string, n: number): void;
  /** Change a declared map's type before load (RINGBUF -> PERF_EVENT_ARRAY fallback). */
  setMapType(h: ObjectHandle, map: string, type: number): void;
  /** Use an existing map fd instead of creating the declared map (bpf_map__reuse_fd). */
  reuseMapFd(h: ObjectHandle, map: string, fd: number): void;
  setAutoload(h: ObjectHandle, prog: string, autoload: boolean): void;
  /** Set a program's type before load (sections libbpf does not know: "socket1", "perf_event/<name>"). */
  setProgramType(h: ObjectHandle, prog: string, type: number): void;
  /** Run a loaded program once (BPF_PROG_TEST_RUN) with an optional ctx; returns the program's return value. */
  progTestRun(h: ObjectHandle, prog: string, ctx: Buffer | null): number;
  /** CLOCK_BOOTTIME in ns (what bpf_ktime_get_boot_ns returns). */
  clockBoottimeNs(): bigint;
  /** madvise(MADV_DONTNEED) on [start, end) inside one clean, file-backed, non-writable mapping; kB it had resident. Throws for any other mapping (clean_pages.c). */
  dropCleanFilePages(start: number, end: number): number;
  /** The same for every executable file mapping (and with withReadOnlyData every read-only one) that passes those checks. */
  dropCleanCodePages(withReadOnlyData: boolean): { mappings: number; residentKb: number };
  /** malloc_trim(0): the C heap's free pages back to the kernel; 1 when something was released (heap_trim.c). */
  trimMallocHeap(): number;
  /**
   * A deadline slot (native/src/deadline.cc) for calls that may not return: -1 when all 64 are taken. `line` is
   * written to stderr before the last-resort SIGKILL (a call V8 could not stop within twice the deadline).
   */
  deadlineOpen(timeoutMs: number, line: string): number;
  deadlineClose(slot: number): void;
  /** fn() under the slot's deadline; past it V8 stops fn and this throws Error{code: 'IG_WASM_DEADLINE'}. */
  deadlineCall<T>(slot: number, fn: () => T): T;
  setAutoattach(h: ObjectHandle, prog: string, autoattach: boolean): void;
  /** Load into the kernel. On failure throws Error whose `.log` is the verifier log and `.errno` the errno. */
  load(h: ObjectHandle): void;
  mapFd(h: ObjectHandle, map: string): number;
  progFd(h: ObjectHandle, prog: string): number;
  close(h: ObjectHandle): void;
  /** Classic BPF (8 bytes per instruction: u16 code, u8 jt, u8 jf, u32 k) for a pcap expression; throws with libpcap's message. */
  pcapCompile(expr: string, linktype: number, snaplen: number): Buffer;
  /** libpcap's own verdict (its interpreter) on one packet: the reference the eBPF translation is tested against. */
  pcapMatch(expr: string, linktype: number, snaplen: number, packet: Buffer): boolean;
  /** Run a loaded program once on packet bytes (BPF_PROG_TEST_RUN data_in); returns its return value. */
  progTestRunData(h: ObjectHandle, prog: string, data: Buffer): number;
  /** eBPF instructions spliced in at the start of gadget_pf_<name>() in the object's "classifier/" programs at load. */
  setPacketFilters(h: ObjectHandle, filters: { name: string; insns: Buffer }[]): void;
  /** Raw .BTF of the object as libbpf holds it after open (DATASEC sizes/offsets filled in), or null. */
  btf(h: ObjectHandle): Buffer | null;

  // Attach. Every function returns a link handle, or throws Error (message names the program and target, `.errno` set).
  attachAuto(h: ObjectHandle, prog: string): LinkHandle;
  /** Run an iterator program (SEC("iter/...")) once over what it walks; returns the bytes it wrote (read and dropped). */
  iterRun(h: ObjectHandle, prog: string): number;
  /** A BPF iterator link (BPF_TRACE_ITER) of a loaded iter/* program; mapFd >= 0: the map an iter/bpf_map_elem walks. */
  attachIter(h: ObjectHandle, prog: string, mapFd: number): LinkHandle;
  /**
   * Open an iterator of the link (in the network namespace at `netnsPath`, null = ig's own) and read it to EOF,
   * `chunk` bytes per read() (0 = 64 KiB): everything the program wrote, in order. Throws with `.errno` when the
   * kernel fails a read (message says after how many bytes).
   */
  iterRead(l: LinkHandle, netnsPath: string | null, chunk: number): Buffer;
  attachTracepoint(h: ObjectHandle, prog: string, category: string, name: string): LinkHandle;
  attachRawTracepoint(h: ObjectHandle, prog: string, name: string): LinkHandle;
  attachKprobe(h: ObjectHandle, prog: string, func: string, retprobe: boolean): LinkHandle;
  /** pid -1 = all processes. `func` is resolved by libbpf in `binaryPath` (offset added if given). */
  attachUprobe(h: ObjectHandle, prog: string, binaryPath: string, func: string, offset: number, retprobe: boolean, pid: number): LinkHandle;
  /** perf_event_open(type, config, sample_freq=freq or period) on `cpu` (pid -1) and attach. */
  attachPerfEvent(h: ObjectHandle, prog: string, opts: { type: number; config: number; freq?: number; period?: number; cpu: number; pid?: number }): LinkHandle;
  /** SO_ATTACH_BPF on an existing socket fd. Returns nothing: the socket's owner closes it. */
  attachSocketFilter(h: ObjectHandle, prog: string, sockFd: number): void;
  /** TC via bpf_tc_hook/bpf_tc_attach on ifindex; ingress or egress. Link destroy detaches. */
  attachTc(h: ObjectHandle, prog: string, ifindex: number, egress: boolean): LinkHandle;
  /** TC attach of a program fd loaded outside an object (e.g. one from progLoadRaw); `name` is for messages. */
  attachTcFd(progFd: number, ifindex: number, egress: boolean, name: string): LinkHandle;
  linkDestroy(l: LinkHandle): void;

  // Sockets and namespaces for network gadgets.
  /** AF_PACKET/SOCK_RAW/ETH_P_ALL socket, optionally bound to ifindex (0 = all), created inside the netns at `netnsPath` (null = current). */
  openPacketSocket(netnsPath: string | null, ifindex: number): number;
  closeFd(fd: number): void;
  /** bpf_prog_load of raw instructions (8 bytes each, struct bpf_insn). Throws Error with `.errno` and `.log` (verifier log). */
  progLoadRaw(type: number, insns: Buffer, name: string, license: string): number;
  /** SO_ATTACH_BPF of a program fd (e.g. one from progLoadRaw) on a socket. */
  attachSocketFilterFd(sockFd: number, progFd: number): void;

  // Maps by fd (keys/values are Buffers; per-CPU values are returned concatenated, one value per possible CPU, each 8-aligned).
  // Sizes are checked against the kernel's (mapInfo): a keySize/valueSize of 0 means "the map's"; a different one throws.
  // Errors carry `.errno` and `.code` (e.g. 'ENOENT').
  /** Kernel view of a map fd. Throws if `fd` is not a BPF map. */
  mapInfo(fd: number): MapFdInfo;
  // Every program on the machine by kernel id (bpfstats). Each needs CAP_SYS_ADMIN.
  /** BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): run time/count are counted for every program while the fd is open. */
  enableRunTimeStats(): number;
  /** The next program id after `id` (0: from the start); 0 when there is none. */
  progNextId(id: number): number;
  /** A program's kernel view, or null when it went away. */
  progInfo(id: number): { id: number; type: number; name: string; runTimeNs: number; runCnt: number; mapIds: number[] } | null;
  /** The `memlock:` bytes the kernel charges for a map, -1 when it went away. */
  mapMemlock(id: number): number;
  /** The kernel id of the program behind an fd this process holds. */
  progIdOfFd(fd: number): number;
  /** bpf_map_get_fd_by_id: a new fd (the caller owns it) for the map with kernel id `id`. Throws if there is none. */
  mapGetFdById(id: number): number;
  mapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, name: string, flags: number): number;
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  /** BPF_MAP_LOOKUP_AND_DELETE_BATCH when `del`, else LOOKUP_BATCH; falls back to iterate+lookup(+delete) when unsupported. Returns keys and values concatenated. `del` on an array map throws. */
  mapDump(fd: number, keySize: number, valueSize: number, del: boolean): { keys: Buffer; values: Buffer; count: number };

  /**
   * Consume every record now in a ring buffer on the calling thread (on-demand snapshots: run the program with
   * progTestRun, then drain). Same layout as a reader batch; records past `maxBytes` (0: 64 MiB) are consumed and
   * counted in `dropped`.
   */
  ringDrain(mapFd: number, maxBytes: number): { buf: Buffer; count: number; dropped: number };

  // Readers: a native poll thread per reader; batches reach JS through a bounded threadsafe-function queue.
  ringOpen(mapFd: number, cb: BatchCallback, opts: ReaderOptions): ReaderHandle;
  perfOpen(mapFd: number, pageCount: number, cb: BatchCallback, opts: ReaderOptions): ReaderHandle;
  /** A perf buffer without a thread, read on the calling thread by perfDrain. */
  perfDrainOpen(mapFd: number, pageCount: number): PerfDrainHandle;
  /** Wait at most timeoutMs for records and consume the ready rings; batch layout as a reader's. */
  perfDrain(h: PerfDrainHandle, timeoutMs: number, maxBytes: number): { buf: Buffer; count: number; dropped: number; lost: number };
  perfDrainClose(h: PerfDrainHandle): void;
  /** Stop the thread, deliver what is pending (cb runs synchronously, before this returns), release. Idempotent. */
  /** Wire mode: JS keeps this frame (or no gRPC message copied it): V8 counts its memory from now on. */
  readerFrameKept(frame: Buffer): void;
  readerStop(r: ReaderHandle): ReaderStats;
  readerStats(r: ReaderHandle): ReaderStats;
  /** While paused no batch reaches the callback: the queue stays full, the poll thread waits, the ring fills. */
  readerPause(r: ReaderHandle, paused: boolean): void;
  /**
   * JS is done with a batch Buffer a reader handed it: its memory goes back to the reader now (not after the next
   * GC). The Buffer, and every view of its memory, reads as empty from then on. False (nothing done) for a Buffer
   * that is not a reader batch.
   */
  batchRelease(buf: Buffer): boolean;
  /** Render mode: write bytes (lines JS rendered) to the reader's output fd, in order with the thread's lines. */
  readerWriteOut(r: ReaderHandle, bytes: Buffer): void;

  // Render plans: ops are int32 quadruples [op, a, b, c]; memos: [count, (ttlMs, nranges, (off, len)*)*].
  renderPlanNew(ops: Int32Array, literals: Buffer, memos: Int32Array, wallOffsetNs: bigint): RenderPlanHandle;
  /** Queue a memo fragment; the render side stores it before its next record (dropped if invalidated meanwhile). */
  renderPlanMemoSet(plan: RenderPlanHandle, memo: number, key: Buffer, fragment: Buffer): void;
  /** Forget every memo before the next record (what the fragments depend on changed). Any time. */
  renderPlanInvalidate(plan: RenderPlanHandle): void;
  renderPlanMemoSource(plan: RenderPlanHandle, memo: number, mapFd: number, textMapFd: number, slots: number, matchSize: number, textSize: number): void;
  /** Lines the plan has rendered so far. */
  renderPlanLines(plan: RenderPlanHandle): number;
  /**
   * The lines of a received batch frame (codec.ts; body bytes [start, end)) rendered with a plan compiled for the
   * twin layout `layout` ([recordBytes, nvalues, (slotOffset, slotType, slotSize)*]), from record state[0] on:
   * written to `out` (the byte count is returned) or, longer than `out`, returned as a Buffer. Sets state[1] to
   * the record it stopped at (state[2], the count, when done). undefined: the frame does not parse, nothing was
   * rendered. `out` a file descriptor: the lines are written to it as they are rendered, and 0 (or -errno of a
   * failed write) is returned. See native/src/render_buffer.c.
   */
  renderBatchFrame(plan: RenderPlanHandle, layout: Int32Array, frame: Buffer, start: number, end: number, state: Int32Array, out: Buffer | number): number | Buffer | undefined;
  /**
   * From now on the plan (compiled for the twin layout `layout`) renders the values it reads from value slots as
   * pieces: each value's JSON text made once per distinct encoded value, adjacent ones copied as one cached text
   * (native/src/render_pieces.c). Returns how many values it binds (0: none, or bound already).
   */
  renderPlanBindPieces(plan: RenderPlanHandle, layout: Int32Array): number;
  /**
   * From now on the plan (bound to pieces) renders each line of renderBatchFrame from the last one: the values whose
   * inputs did not change are copied from its text (native/src/render_plan.c). False: not a plan it can do that for.
   */
  renderPlanBindDelta(plan: RenderPlanHandle): boolean;
  /** Replays (native/src/replay_render.c): render a reader-layout batch from `offset` on this thread, lines to `fd`. */
  /** Recording writer (native/src/record_writer.c): entries compressed and written in chunks on its own thread. */
  recorderOpen(path: string, opts: RecorderOptions): RecorderHandle;
  recorderBegin(rec: RecorderHandle, headerJsonPrefix: string): void;
  recorderAppend(rec: RecorderHandle, head: Buffer, body: Buffer | null, key: string | null): boolean;
  recorderSeal(rec: RecorderHandle): void;
  recorderNow(rec: RecorderHandle): number;
  recorderStats(rec: RecorderHandle): RecorderStats;
  recorderClose(rec: RecorderHandle): RecorderStats;
  zstdDecompress(stored: Buffer, contentLength: number): Buffer;
  replayLoopOpen(fd: number, position: number, size: number, version: number, chunks: number, state: Float64Array): ReplayLoopHandle;
  replayLoopRoute(loop: ReplayLoopHandle, dsId: number, plan: RenderPlanHandle, fd: number): void;
  replayLoopStep(loop: ReplayLoopHandle, budgetMs: number): Buffer | undefined;
  replayLoopClose(loop: ReplayLoopHandle): void;
  zstdCompress(content: Buffer, level: number): Buffer;
  renderPlanRenderTo(plan: RenderPlanHandle, batch: Buffer, offset: number, count: number, fd: number): { done: number; offset: number; stop: number; error: number };

  // Wire batches (native/src/wire_batch.c): spec [dsId, recordBytes, nvals, (kind, ttlMs, off, nranges, (off, len)*)*].
  wireBatchNew(spec: Int32Array): WireBatchHandle;
  /** The packet codec's batch frame of live[0..n) (its length when written into scratch), or (value, live position) pairs of memo misses. */
  wireBatchEncode(h: WireBatchHandle, buf: Buffer, offs: Uint32Array, lens: Uint32Array, live: Uint32Array, n: number, scratch?: Buffer): Buffer | Int32Array | number;
  /** Store a value's tagged bytes for the key of the record at buf[recordOffset]. */
  wireBatchFill(h: WireBatchHandle, value: number, buf: Buffer, recordOffset: number, fragment: Buffer, aux: number): void;
  /** Forget a value's memo (-1: all). */
  wireBatchClear(h: WireBatchHandle, value: number): void;
  /** Release the memos now; later encodes and fills throw. */
  wireBatchClose(h: WireBatchHandle): void;

  // Metrics aggregators: key ranges are [offset, size, flags]* (flags 1: C string), ops [op, offset, size, n]*.
  metricsAggNew(keyRanges: Int32Array, ops: Int32Array, maxKeys: number): MetricsAggregatorHandle;
  /** New keys and per-slot deltas since the last drain; `reset` forgets every key afterwards. */
  metricsAggDrain(h: MetricsAggregatorHandle, reset: boolean): MetricsAggregatorDrain;
  /** Count a reader-layout batch on this thread. Test build only. */
  metricsAggAddBatch?(h: MetricsAggregatorHandle, batch: Buffer, count: number): void;
  /**
   * Render a reader-layout batch on this thread: the lines, and the indices of records that missed a memo. Test
   * build only (ig_native_test.node, see test/harness/native-test-addon.ts): production renders on reader threads.
   */
  renderPlanRender?(plan: RenderPlanHandle, batch: Buffer, count: number, nowOffsetMs?: number): { out: Buffer; missed: number[]; refresh: number[] };
}
