// One gadget running inside the daemon, for one client (RunGadget) or headless (an instance) with any number of
// attached clients. The run is the local pipeline minus the cli operator, plus a forwarder at the end (priority
// 1000000, as upstream) that encodes each batch once per wire form (ig's batch frames, upstream's per-event
// payloads) and hands it to every client's bounded queue; a headless instance also keeps its last events for
// clients that attach later.
import { prepareGadget } from '../runtime/assemble.js';
import { defaultDataOperators } from '../runtime/operators.js';
import type { KubeSources } from '../operators/common/pod-source.js';
import { GadgetContext } from '../gadget/context.js';
import { Logger, type LogLevel as LoggerLevel } from '../gadget/logger.js';
import { EarlyLog } from './early-log.js';
import type { DataOperator } from '../gadget/operator.js';
import type { GetImageOptions } from '../oci/images.js';
import { describeDataSource } from './wire.js';
import { PacketDecoder, PacketEncoder, FrameType, frameLength } from '../datasource/codec.js';
import { ClientStream, levelOfLine } from './client-stream.js';
import { UpstreamEncoder } from './upstream-wire.js';
import { ReplayBuffer } from './replay-buffer.js';
import { NativeBatchEncoder, recordFixes } from './native-wire.js';
import { keepReaderFrame, releaseBatch } from '../bpf/reader.js';
import { FrameRelease } from './frame-release.js';
import { EventType, LogLevel } from './consts.js';
import { encodeMessage, type ApiGadgetInfo, type ApiParam } from './proto.js';
import type { ParamDesc } from '../gadget/params.js';
import type { Batch, Subscriber } from '../datasource/index.js';
import { isReplayName, prepareRecordingRun } from './recording-run.js';
import type { Recording } from '../record/recording.js';

export const FORWARDER_PRIORITY = 1000000;
/**
 * Frames written on a reader's thread: it lingers 4 ms after a poll (as the cli's reader-thread renderer) and a
 * frame goes out 25 ms after its first record or at 1 MiB. Under a storm that makes frames of a few thousand events:
 * one gRPC message each. The daemon's JS thread pays ~0.2 ms per frame whatever its size (the frame's delivery from
 * the reader, the HTTP/2 write and its callbacks): at 10 ms, frames of ~1,000-2,000 events under a storm made that
 * about 0.1 µs per event (2026-12-06, h14d, docs/benchmarks.md). IG_WIRE_FRAME_MS sets it (benchmarks: 10 was the
 * value before).
 */
const FRAME_LINGER_US = 4000;
const FRAME_LATENCY_MS = frameLatencyMs(process.env.IG_WIRE_FRAME_MS);
const FRAME_MAX_BYTES = 1 << 20;

/** A frame's latency in ms from IG_WIRE_FRAME_MS (1-1000), 25 otherwise. */
export function frameLatencyMs(env: string | undefined): number {
  const n = Number(env);
  return env !== undefined && env !== '' && Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 25;
}

export interface RunOptions {
  image?: GetImageOptions;
  /** Values set by the daemon for every run (its own flags); clients cannot change them. */
  daemonParams?: Record<string, string>;
  /** Level of the messages forwarded to clients (protocol log level). */
  logLevel?: number;
  /** The daemon's own log for what no client sees. */
  daemonLog?: Logger;
  /** This daemon is a node of a Kubernetes cluster: KubeManager and the Kubernetes resolvers run (src/kube). */
  kube?: KubeSources;
  /** `ig daemon --recordings-dir`: where `replay:NAME` image names are looked up (recording-run.ts). */
  recordingsDir?: string;
}

function loggerLevel(level: number): LoggerLevel {
  if (level >= LogLevel.Debug) return 'debug';
  if (level >= LogLevel.Info) return 'info';
  if (level >= LogLevel.Warn) return 'warn';
  return 'error';
}

export function toApiParam(p: ParamDesc): ApiParam {
  return {
    key: p.key, description: p.description ?? '', defaultValue: p.defaultValue ?? '', typeHint: p.typeHint ?? '', title: p.title ?? '',
    alias: p.alias ?? '', tags: p.tags ?? [], valueHint: p.valueHint ?? '', possibleValues: p.possibleValues ?? [],
    isMandatory: p.isMandatory ?? false, prefix: p.prefix ?? '', alternativeKey: p.alternativeKey ?? '',
  };
}

/** Operators that render locally have no place in the daemon: clients render. */
function daemonOperators(extra: DataOperator[], kube?: KubeSources): DataOperator[] {
  return defaultDataOperators({ extra, kube }).filter((o) => o.name !== 'cli');
}

export class GadgetRun {
  readonly clients = new Set<ClientStream>();
  info!: ApiGadgetInfo;
  private infoPayload: Buffer | undefined;
  /** Every data source's field-table frame: a client gets them all before its first batch. */
  private tablesPayload: Buffer | undefined;
  /** Messages no client could hear (start-up, headless): replayed to clients that attach later; bounded (early-log.ts). */
  private readonly early = new EarlyLog();
  private batchClients = 0;
  private upstreamClients = 0;
  private dataSourceCount = 0;
  /** Per data source (by number): its events in upstream's payload form. */
  private upstream: UpstreamEncoder[] = [];
  private replay?: ReplayBuffer;
  /** Per data source: its frames written natively (native-wire.ts), where every value it carries allows. */
  private natives: NativeBatchEncoder[] = [];
  /** Names of the data sources whose frames are written natively (tests, -v). */
  readonly nativeDataSources: string[] = [];
  /** Frames a reader's thread wrote, and their records (tests, -v). */
  readerFrames = 0;
  readerFrameRecords = 0;
  readerFrameBytes = 0;
  /** Reader frames handed back to the reader's pool once every client's write of them was done (tests, -v). */
  readerFramesReleased = 0;

  private daemonKeys = new Set<string>();
  /** A run of a recording (`replay:NAME`): its file, closed when the run is discarded unused. */
  recording?: Recording;
  /** A recording's feed waits while a client is this far behind (records in flight), instead of dropping. */
  private replayHeld = false;
  /** A recording's feed waits for the first client (holdForFirstClient). */
  private heldForClient = false;
  /** When the request for this run arrived (performance.now()), for the debug log's start-up times. */
  startedAt: number | undefined;
  private firstBatchSeen = false;
  /** Decodes frames written on a reader's thread for upstream-form clients (made on first use). */
  private frameDecoder: PacketDecoder | undefined;

  private constructor(readonly ctx: GadgetContext, private readonly daemonLog?: Logger, /** Protocol log level the run was assembled with. */ readonly logLevel: number = LogLevel.Warn) {}

  /** Resolve the image and assemble the pipeline; params are set, not yet validated against a start. */
  static async prepare(imageName: string, paramValues: Record<string, string>, opts: RunOptions = {}): Promise<GadgetRun> {
    let run: GadgetRun | undefined;
    const level = loggerLevel(opts.logLevel ?? LogLevel.Warn);
    const log = new Logger(level, (line) => {
      const { level: l, msg } = levelOfLine(line);
      if (!run || run.clients.size === 0) { run?.early.push({ level: l, msg }); opts.daemonLog?.debug(`${imageName}: ${msg}`); }
      for (const c of run?.clients ?? []) c.log(l, msg);
    });
    const forwarder: DataOperator = {
      name: 'grpc-forwarder',
      priority: FORWARDER_PRIORITY,
      instantiate: () => ({ name: 'grpc-forwarder', preStart: () => run!.subscribeAll(), start: () => { run!.timing('started (programs loaded and attached)'); run!.holdForFirstClient(); }, postStop: () => run!.closeEncoders() }),
    };
    let recording: Recording | undefined;
    let ctx: GadgetContext;
    if (isReplayName(imageName)) {
      // A recording served as a run: its recorded image and pipeline, fed from the file (never the kernel).
      ({ ctx, recording } = await prepareRecordingRun(imageName, opts.recordingsDir, { log, operators: daemonOperators([forwarder]) }));
    } else {
      ctx = await prepareGadget(imageName, { log, operators: daemonOperators([forwarder], opts.kube), image: opts.image });
    }
    run = new GadgetRun(ctx, opts.daemonLog, opts.logLevel ?? LogLevel.Warn);
    run.recording = recording;
    for (const [k, v] of Object.entries(opts.daemonParams ?? {})) if (ctx.params.find(k)) ctx.params.set(k, v);
    run.daemonKeys = new Set(Object.keys(opts.daemonParams ?? {}));
    run.setParams(paramValues);
    return run;
  }

  /** The client's param values (before run()); those the daemon sets stay the daemon's. */
  setParams(paramValues: Record<string, string>): void {
    for (const [k, v] of Object.entries(paramValues)) {
      if (this.daemonKeys.has(k)) { this.ctx.log.warn(`param ${k} is set by the daemon; the client's value is ignored`); continue; }
      this.ctx.params.set(k, v);
    }
    this.info = this.describe();
  }

  /** GadgetInfo as GetGadgetInfo answers it (before the run: data sources as declared). */
  describe(): ApiGadgetInfo {
    const img = this.ctx.image as { reference: string; metadata?: Buffer | null };
    return {
      name: this.ctx.name,
      imageName: img.reference,
      dataSources: [...this.ctx.dataSources.values()].map((ds, i) => describeDataSource(ds, i)),
      annotations: { ...this.ctx.metadata.annotations },
      metadata: img.metadata ?? Buffer.alloc(0),
      params: this.ctx.params.all().map(toApiParam),
      id: '',
      extraInfo: null,
    };
  }

  private subscribeAll(): void {
    // One encoder for all clients: each batch is encoded once. Its field tables are taken out of the stream (an
    // empty batch makes the encoder write them) and sent to each client when it joins, so batch frames can be
    // shared by clients that joined at different times.
    const enc = new PacketEncoder();
    const tables: Buffer[] = [];
    const dss = [...this.ctx.dataSources.values()];
    for (const ds of dss) {
      const frames = enc.encode(ds.newBatch(0));
      const len = frameLength(frames)!;
      if (frames[3] !== FrameType.FieldTable) throw new Error(`data source ${ds.name}: the packet encoder wrote no field table`);
      tables.push(frames.subarray(0, len));
    }
    this.tablesPayload = Buffer.concat(tables);
    this.dataSourceCount = dss.length;
    this.upstream = dss.map((ds) => new UpstreamEncoder(ds));
    // Every field travels, so values a kernel map keeps (Derivation.kernelText: the process enricher's exe tracker)
    // start now, before the gadget attaches, as `ig run`'s cli does for the fields it shows: a process that lives
    // a millisecond still has its executable (the getter, asked at the first batch, would find it gone).
    for (const ds of dss) for (const f of ds.fields) if (f.derivation?.kind === 'computed') f.derivation.kernelText?.mapFds();
    dss.forEach((ds, dsId) => {
      const up = this.upstream[dsId]!;
      const nat = process.env.IG_WIRE_NATIVE === '0' ? { reason: 'IG_WIRE_NATIVE=0' } : NativeBatchEncoder.create(enc, ds);
      if (nat instanceof NativeBatchEncoder) { this.natives.push(nat); this.nativeDataSources.push(ds.name); }
      else this.daemonLog?.debug(`${this.ctx.name}: ${ds.name}: batches encoded in JS (${nat.reason})`);
      const encode = nat instanceof NativeBatchEncoder ? (b: Batch) => nat.encode(b) : (b: Batch) => enc.encode(b);
      const forward: Subscriber = (b) => {
        if (b.liveCount === 0 && ds.type === 'single') return;
        const records = Math.max(b.liveCount, 1);
        this.forward(dsId, up, records, () => encode(b), () => b);
        if (this.recording) this.holdReplay();
      };
      ds.subscribe(forward, FORWARDER_PRIORITY);
      // Frames written on the reader's thread (a tracer takes this when nothing else needs the records in JS):
      // the records the memos miss on still come through `forward`, in order.
      if (nat instanceof NativeBatchEncoder && process.env.IG_WIRE_READER !== '0') {
        this.ctx.frameConsumers.offer(ds, {
          writer: nat.writer, clock: recordFixes(ds, nat.keyRanges), standsInFor: forward,
          lingerUs: FRAME_LINGER_US, maxLatencyMs: FRAME_LATENCY_MS, maxBatchBytes: FRAME_MAX_BYTES,
          frame: (buf, count) => {
            this.readerFrames++;
            this.readerFrameRecords += count;
            this.readerFrameBytes += buf.length;
            // Back to the reader's pool once every client's socket has it (frame-release.ts); kept (and counted
            // by V8: reader.ts) when read again for upstream-form clients. An instance's event buffer keeps a copy.
            const rel = new FrameRelease(buf, (f) => { if (releaseBatch(f)) this.readerFramesReleased++; }, keepReaderFrame);
            if (this.upstreamClients > 0) rel.hold();
            // Before the writes: once they are done the block may hold the reader's next frame.
            nat.refreshFrom(buf);
            this.forward(dsId, up, count, () => buf, () => this.decodeFrame(buf), rel);
            rel.forwarded();
          },
        });
      }
      ds.onLost((n, cause) => this.ctx.log.warn(`${ds.name}: lost ${n} events (${cause})`));
    });
    // The descriptions as they are now (operators added their fields in instantiate and preStart).
    this.info = { ...this.info, dataSources: dss.map((ds, i) => describeDataSource(ds, i)) };
    this.infoPayload = encodeMessage('GadgetInfo', this.info);
    for (const c of this.clients) this.greet(c);
  }

  /**
   * A recording has no kernel to lose events in: rather than drop what a slow client cannot take, the feed waits
   * (DataSource.pauseProducer) while any client has more than half its queue in flight (messages or bytes), and goes
   * on once every client is below a quarter.
   */
  private holdReplay(): void {
    const behind = [...this.clients].some((c) => c.fill > 0.5);
    if (!behind || this.replayHeld) return;
    const first = this.ctx.dataSources.values().next().value;
    if (!first?.pauseProducer(true)) return;
    this.replayHeld = true;
    const check = () => {
      if (!this.replayHeld || [...this.clients].some((c) => !c.isClosed && c.fill > 0.25)) return;
      this.replayHeld = false;
      for (const c of this.clients) c.onWritten = undefined;
      first.pauseProducer(false);
    };
    for (const c of this.clients) c.onWritten = check;
    this.ctx.signal.addEventListener('abort', () => { this.replayHeld = false; first.pauseProducer(false); }, { once: true });
  }

  /**
   * A recording run without a client (a detached instance, `gadgetctl run replay:NAME --detach`) waits for its first
   * client before its feed starts: at full speed it would otherwise be over before anyone could attach.
   */
  holdForFirstClient(): void {
    if (!this.recording || this.clients.size > 0) return;
    const first = this.ctx.dataSources.values().next().value;
    if (first?.pauseProducer(true)) this.heldForClient = true;
  }

  /** An assembly that will not run (GetGadgetInfo's of a recording): release what it holds. */
  discard(): void {
    this.recording?.close();
    this.recording = undefined;
  }

  /**
   * One batch of data source `dsId` to every client: its frame (encoded once) and, for upstream clients, packets.
   * Whether a batch-form client's stream took the frame.
   */
  private forward(dsId: number, up: UpstreamEncoder, records: number, frame: () => Buffer, batch: () => Batch | undefined, rel?: FrameRelease): boolean {
    if (!this.firstBatchSeen) { this.firstBatchSeen = true; this.timing(`first batch of ${up.ds.name}`); }
    let sent = false;
    if (this.batchClients > 0 || this.replay) {
      const payload = frame();
      // A reader frame's memory goes back to its pool after the writes: the buffer keeps its own copy.
      this.replay?.push(dsId, rel ? Buffer.from(payload) : payload, records);
      if (this.batchClients > 0) {
        for (const c of this.clients) {
          if (c.form !== 'batch') continue;
          const done = rel?.write();
          if (c.sendBatch(dsId, payload, records, done)) sent = true;
          else done?.('done'); // dropped: this client never reads it
        }
      }
    }
    if (this.upstreamClients > 0) {
      const b = batch();
      if (!b) return sent;
      const packets = up.packets(b);
      const per = up.ds.type === 'array' ? records : 1;
      for (const c of this.clients) if (c.form === 'upstream') for (const p of packets) c.sendPacket(dsId, p, per);
    }
    return sent;
  }

  /** A frame written on a reader's thread as a batch (upstream clients need the values per record). */
  private decodeFrame(frame: Buffer): Batch | undefined {
    if (!this.frameDecoder) { this.frameDecoder = new PacketDecoder(); this.frameDecoder.decode(this.tablesPayload!); }
    return this.frameDecoder.decode(frame)[0]?.batch;
  }

  /** -v: a start-up step, in ms since the request arrived. */
  timing(what: string): void {
    if (this.startedAt !== undefined) this.daemonLog?.debug(`${this.ctx.name}: ${what} at ${Math.round(performance.now() - this.startedAt)} ms`);
  }

  closeEncoders(): void {
    if (this.readerFrames > 0) this.daemonLog?.debug(`${this.ctx.name}: ${this.readerFrameRecords} records in ${this.readerFrames} frames (${Math.round(this.readerFrameBytes / Math.max(1, this.readerFrameRecords))} bytes per record) written on the reader thread, ${this.readerFramesReleased} handed back after their writes`);
    for (const n of this.natives.splice(0)) n.close();
  }

  private greet(c: ClientStream): void {
    c.sendControl(EventType.GadgetInfo, this.infoPayload!);
    if (c.form === 'batch') c.sendControl(EventType.GadgetBatch, this.tablesPayload!);
    if (!this.replay || this.replay.events === 0) return;
    // The buffered events first, in the client's form, then the live ones (attach runs between two batches).
    for (const r of this.replay.replay(this.tablesPayload!, this.dataSourceCount)) {
      if (c.form === 'batch') { c.sendBatch(r.dsId, r.frame, r.records); continue; }
      const up = this.upstream[r.dsId]!;
      const per = up.ds.type === 'array' ? r.records : 1;
      for (const p of up.packets(r.batch)) c.sendPacket(r.dsId, p, per);
    }
  }

  /** Keep the last `length` events for clients that attach later (headless instances). Before run(). */
  bufferEvents(length: number): void {
    this.replay = length > 0 ? new ReplayBuffer(length) : undefined;
  }

  /** Add a client; once the run has started it gets the gadget info at once (and buffered events), then the next batches. */
  attach(c: ClientStream): void {
    this.clients.add(c);
    if (c.form === 'batch') this.batchClients++; else this.upstreamClients++;
    for (const m of this.early.messages()) c.log(m.level, m.msg);
    if (this.infoPayload) this.greet(c);
    if (this.heldForClient) {
      this.heldForClient = false;
      this.ctx.dataSources.values().next().value?.pauseProducer(false);
    }
  }

  detach(c: ClientStream): void {
    if (!this.clients.delete(c)) return;
    if (c.form === 'batch') this.batchClients--; else this.upstreamClients--;
    this.daemonLog?.debug(`${this.ctx.name}: ` + `client left: ${c.sentTotal} events sent, ${c.lostTotal} lost (too slow)`);
  }

  /** Run until done, stopped or timed out; kernel objects are released when this resolves. */
  run(timeoutMs: number): Promise<void> {
    // A recording stopped before its feed began still holds its file.
    return this.recording ? this.ctx.run({ timeoutMs }).finally(() => this.discard()) : this.ctx.run({ timeoutMs });
  }

  stop(reason = 'stopped'): void {
    this.ctx.done(reason);
  }
}
