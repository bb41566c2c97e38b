// A client of the gadget service (gadgetctl, tests): connect over unix or TCP (TLS, mutual TLS), call the
// instance and info methods, run or attach to a gadget and receive its events decoded into data sources.
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ApiGadgetEvent, ApiGadgetInfo, ApiGadgetInstance, ApiInfoResponse, ApiControlRequest, ApiRunRequest } from './proto.js';
import { clientServiceOf, decodeClientMessage, decodeGadgetEvent, encodeClientMessage } from './client-proto.js';
import { H2Call } from './h2-call.js';
import { WIRE_FORM_METADATA, WIRE_FORM_BATCH, EventType, EVENT_LOG_SHIFT, VERSION_GADGET_INFO, VERSION_GADGET_RUN_PROTOCOL, GADGET_INFO_FLAG_USE_INSTANCE } from './consts.js';
import { parseAddress } from './address.js';
import { PacketDecoder, type RawBatchReader } from '../datasource/codec.js';
import { UpstreamSource } from './upstream-decode.js';
import type { Batch, DataSource } from '../datasource/index.js';

export interface ClientTls { key?: string; cert?: string; serverCa?: string; serverName?: string }

export interface ClientOptions {
  address: string;
  tls?: ClientTls;
  /** Seconds to wait for the connection. */
  connectTimeoutSec?: number;
  /**
   * Ask for ig's batch form (default) or take upstream's per-event payloads (what upstream's daemon sends in any
   * case: a daemon that does not know the header answers in upstream's form and this client reads that too).
   */
  wireForm?: 'batch' | 'upstream';
  /**
   * The RunGadget event stream on a raw HTTP/2 connection of its own (h2-call.ts) rather than through grpc-js:
   * default on unix sockets and plain TCP (IG_GRPC_RAW=0 turns it off); TLS connections always use grpc-js.
   */
  rawStream?: boolean;
}

/** The part of a RunGadget call `run` drives, whichever transport carries it. */
interface EventCall {
  write(req: ApiControlRequest): void;
  cancel(): void;
  pause(paused: boolean): void;
}

interface EventSink {
  /** One GadgetEvent; true when something may still reference its bytes after the call. */
  onEvent(ev: ApiGadgetEvent): boolean;
  /** The end of the call: undefined when OK, else its status. */
  onEnd(err?: { code: number; details: string; message?: string }): void;
}

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** Bytes the daemon may send ahead of what this client has read (HTTP/2 stream and connection window). */
const FLOW_CONTROL_WINDOW = 32 << 20;

export class RemoteError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

function remoteError(e: unknown, address: string, tls = false): Error {
  const se = e as grpc.ServiceError;
  if (typeof se?.code === 'number') {
    if (se.code === grpc.status.UNAVAILABLE) {
      let why = connectionFailure(se.details || se.message);
      // A daemon that refuses our certificate just closes the handshake: say where to look.
      if (tls && /^Failed to connect$/.test(why)) why += ' (TLS handshake refused: is the client certificate signed by the daemon\'s client CA?)';
      return new RemoteError(se.code, `cannot reach the ig daemon at ${address}: ${why}`);
    }
    return new RemoteError(se.code, se.details || se.message);
  }
  return e as Error;
}

/** grpc-js's "No connection established. Last error: Error: X. Resolution note: …" as just X, on one line. */
function connectionFailure(details: string): string {
  const flat = details.replace(/\s+/g, ' ').trim();
  const m = /Last error: (?:Error: )?(.*?)(?:\s*\(\d{4}-\d\d-\d\dT[^)]*\))?\.?(?: Resolution note:.*)?$/.exec(flat);
  return (m?.[1] || flat).trim() || 'connection failed';
}

export interface RunHandlers {
  /** The running gadget's description (params, data sources as the API describes them). */
  onInfo(info: ApiGadgetInfo): void;
  /** The data sources built from the field tables received so far (before any of their batches). */
  onDataSources(dataSources: DataSource[]): void;
  onBatch(ds: DataSource, b: Batch): void;
  /**
   * A batch frame as bytes, before it is decoded: return true when handled (rendered from the bytes), false to
   * receive it decoded through onBatch.
   */
  onBatchFrame?: RawBatchReader;
  onLog(level: number, msg: string): void;
  /** Events the daemon dropped for this client (it read too slowly). */
  onLost(count: number): void;
}

export interface RunHandle {
  /** Resolves when the run ends (gadget done, timeout, stop), rejects with the daemon's status. */
  done: Promise<void>;
  stop(): void;
  /**
   * Stop (true) or resume reading events: while paused, HTTP/2 flow control holds the daemon back once the
   * receive window is full, and the daemon drops (and reports) what its per-client buffer cannot hold.
   */
  pause(paused: boolean): void;
}

export class GadgetClient {
  private readonly creds: grpc.ChannelCredentials;
  private readonly target: string;
  private readonly channelOpts: grpc.ChannelOptions;
  private readonly clients = new Map<string, AnyClient>();
  private readonly tls: boolean;
  private readonly address: ReturnType<typeof parseAddress>;

  constructor(readonly opts: ClientOptions) {
    const a = parseAddress(opts.address);
    this.address = a;
    this.target = a.target;
    const t = opts.tls;
    this.tls = Boolean(t && (t.key || t.cert || t.serverCa));
    if (t && (t.key || t.cert || t.serverCa)) {
      if (!t.serverCa) throw new Error('TLS needs --tls-server-ca-file (the CA that signed the daemon\'s certificate)');
      if (Boolean(t.key) !== Boolean(t.cert)) throw new Error('TLS client authentication needs both --tls-key-file and --tls-cert-file');
      this.creds = grpc.credentials.createSsl(fs.readFileSync(t.serverCa), t.key ? fs.readFileSync(t.key) : null, t.cert ? fs.readFileSync(t.cert) : null);
    } else {
      this.creds = grpc.credentials.createInsecure();
    }
    // A large HTTP/2 receive window (stream and connection): with the 64 KiB default the daemon may send only a few
    // batches before waiting for this process to grant more, so a storm's throughput was bound by two processes
    // taking turns on a busy machine, and the daemon dropped what did not fit its per-client buffer.
    this.channelOpts = { 'grpc.max_receive_message_length': 64 << 20, 'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW, ...(t?.serverName ? { 'grpc.ssl_target_name_override': t.serverName, 'grpc.default_authority': t.serverName } : {}) };
  }

  private client(service: 'GadgetManager' | 'GadgetInstanceManager' | 'BuiltInGadgetManager'): AnyClient {
    let c = this.clients.get(service);
    if (!c) {
      const Ctor = clientServiceOf(service);
      // One channel for all three services: grpc-js shares subchannels with equal target and options.
      c = new Ctor(this.target, this.creds, this.channelOpts) as unknown as AnyClient;
      this.clients.set(service, c);
    }
    return c;
  }

  private deadline(): grpc.CallOptions {
    return { deadline: Date.now() + (this.opts.connectTimeoutSec ?? 30) * 1000 };
  }

  private call<Res>(service: 'GadgetManager' | 'GadgetInstanceManager' | 'BuiltInGadgetManager', method: string, req: unknown, opts: grpc.CallOptions = this.deadline()): Promise<Res> {
    return new Promise((resolve, reject) => {
      const c = this.client(service);
      (c[method] as (...a: unknown[]) => void).call(c, req, new grpc.Metadata(), opts, (err: grpc.ServiceError | null, res: Res) => {
        if (err) reject(remoteError(err, this.opts.address, this.tls)); else resolve(res);
      });
    });
  }

  getInfo(): Promise<ApiInfoResponse> {
    return this.call('BuiltInGadgetManager', 'GetInfo', { version: String(VERSION_GADGET_INFO) });
  }

  async getGadgetInfo(imageName: string, paramValues: Record<string, string> = {}, useInstance = false): Promise<ApiGadgetInfo> {
    const res = await this.call<{ gadgetInfo: ApiGadgetInfo }>('GadgetManager', 'GetGadgetInfo', {
      imageName, paramValues, version: VERSION_GADGET_INFO, flags: useInstance ? GADGET_INFO_FLAG_USE_INSTANCE : 0, requestExtraInfo: false,
    });
    return res.gadgetInfo;
  }

  async createInstance(inst: Partial<ApiGadgetInstance> & { gadgetConfig: ApiRunRequest }, eventBufferLength = 0): Promise<ApiGadgetInstance> {
    const res = await this.call<{ gadgetInstance: ApiGadgetInstance }>('GadgetInstanceManager', 'CreateGadgetInstance', {
      gadgetInstance: { ...inst, gadgetConfig: { ...inst.gadgetConfig, version: VERSION_GADGET_RUN_PROTOCOL } }, eventBufferLength,
    });
    return res.gadgetInstance;
  }

  async listInstances(): Promise<ApiGadgetInstance[]> {
    return (await this.call<{ gadgetInstances: ApiGadgetInstance[] }>('GadgetInstanceManager', 'ListGadgetInstances', {})).gadgetInstances ?? [];
  }

  getInstance(id: string): Promise<ApiGadgetInstance> {
    return this.call('GadgetInstanceManager', 'GetGadgetInstance', { id });
  }

  async removeInstance(id: string): Promise<void> {
    const r = await this.call<{ result: number; message: string }>('GadgetInstanceManager', 'RemoveGadgetInstance', { id });
    if (r.result !== 0) throw new RemoteError(grpc.status.UNKNOWN, r.message || `removing ${id} failed`);
  }

  /** Whether RunGadget goes over the raw HTTP/2 path (h2-call.ts). */
  get usesRawStream(): boolean {
    if (this.tls) return false;
    return this.opts.rawStream ?? process.env['IG_GRPC_RAW'] !== '0';
  }

  /** RunGadget through grpc-js (TLS, or the raw path turned off). */
  private grpcCall(metadata: Record<string, string>, sink: EventSink): EventCall {
    const c = this.client('GadgetManager');
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    const call = (c['RunGadget'] as (md: grpc.Metadata) => grpc.ClientDuplexStream<ApiControlRequest, ApiGadgetEvent>).call(c, md);
    call.on('data', (ev: ApiGadgetEvent) => { sink.onEvent(ev); });
    call.on('error', (e: grpc.ServiceError) => sink.onEnd(e));
    call.on('end', () => sink.onEnd());
    return { write: (r) => { call.write(r); }, cancel: () => call.cancel(), pause: (p) => { if (p) call.pause(); else call.resume(); } };
  }

  /** RunGadget on a raw HTTP/2 connection of its own. */
  private rawCall(metadata: Record<string, string>, sink: EventSink): EventCall {
    const a = this.address;
    let sock: { socketPath?: string; host?: string; port?: number };
    if (a.type === 'unix') sock = { socketPath: a.path };
    else {
      const i = a.path.lastIndexOf(':');
      sock = { host: a.path.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(a.path.slice(i + 1)) };
    }
    const call = new H2Call({ ...sock, path: '/api.GadgetManager/RunGadget', authority: a.type === 'unix' ? 'localhost' : a.path, metadata, connectTimeoutMs: (this.opts.connectTimeoutSec ?? 30) * 1000 }, {
      onMessage: (buf, start, end) => sink.onEvent(decodeGadgetEvent(buf.subarray(start, end))),
      onStatus: (st) => sink.onEnd(st.code === grpc.status.OK ? undefined : { ...st, message: st.details }),
    });
    return { write: (r) => call.write(encodeClientMessage('GadgetControlRequest', r)), cancel: () => call.cancel(), pause: (p) => call.pause(p) };
  }

  /** Run a gadget (or attach to an instance: `attachId`) and stream its events to the handlers. */
  run(req: { imageName?: string; paramValues?: Record<string, string>; timeoutMs?: number; logLevel?: number; attachId?: string }, h: RunHandlers): RunHandle {
    const metadata: Record<string, string> = {};
    if (this.opts.wireForm !== 'upstream') metadata[WIRE_FORM_METADATA] = WIRE_FORM_BATCH; // batches, not one event per message
    let fresh = false;
    let tables = 0;
    const dss = new Map<string, DataSource>();
    const decoder = new PacketDecoder({ onDataSource: (ds) => { dss.set(ds.name, ds); fresh = true; tables++; } });
    // Upstream's form: data sources from the latest GadgetInfo, sequence numbers to count what was dropped.
    let lastInfo: ApiGadgetInfo | undefined;
    let upstream: Map<number, UpstreamSource> | undefined;
    let expectedSeq = 1;
    const first: ApiControlRequest = req.attachId
      ? { attachRequest: { id: req.attachId, version: VERSION_GADGET_RUN_PROTOCOL } }
      : { runRequest: { imageName: req.imageName ?? '', paramValues: req.paramValues ?? {}, args: [], version: VERSION_GADGET_RUN_PROTOCOL, logLevel: req.logLevel ?? 3, timeout: String(BigInt(Math.round(req.timeoutMs ?? 0)) * 1000000n) } };
    // Raw batch frames: the handlers learn of a data source announced in the same payload before its first batch.
    const onFrame = h.onBatchFrame;
    const raw: RawBatchReader | undefined = onFrame && ((ds, frame, start, end, decode) => {
      if (fresh) { fresh = false; h.onDataSources([...dss.values()]); }
      return onFrame(ds, frame, start, end, decode);
    });
    let stopped = false;
    let failed: Error | undefined;
    let call: EventCall | undefined;
    /** The event's bytes may be referenced after it was handled (decoded objects, data sources). */
    const onEvent = (ev: ApiGadgetEvent): boolean => {
      const type = ev.type >>> 0;
      if (type === EventType.GadgetBatch) {
        const tablesBefore = tables;
        const out = decoder.decode(ev.payload, raw);
        // Batches decoded here copy their records, and frames taken as bytes are done with; field tables are kept
        // as data sources (conservatively: their bytes may be referenced).
        const kept = out.length > 0 || tables !== tablesBefore;
        if (fresh) { fresh = false; h.onDataSources([...dss.values()]); }
        for (const d of out) h.onBatch(d.ds, d.batch);
        return kept;
      } else if (type === EventType.GadgetPayload) {
        if (!upstream) {
          if (!lastInfo) throw new Error('the daemon sent an event before the gadget information');
          upstream = new Map(lastInfo.dataSources.map((t) => [t.id, new UpstreamSource(t)]));
          h.onDataSources([...upstream.values()].map((u) => u.ds));
        }
        if (ev.seq > expectedSeq) h.onLost(ev.seq - expectedSeq);
        expectedSeq = ev.seq + 1;
        const src = upstream.get(ev.dataSourceID);
        if (!src) throw new Error(`the daemon sent an event of data source ${ev.dataSourceID}, which its gadget information does not list`);
        const b = src.decode(ev.payload);
        h.onBatch(src.ds, b);
      } else if (type === EventType.GadgetInfo) {
        lastInfo = decodeClientMessage<ApiGadgetInfo>('GadgetInfo', ev.payload);
        upstream = undefined; // a new description: data sources are built again from it
        h.onInfo(lastInfo);
      } else if (type === EventType.GadgetLost) {
        h.onLost(Number(ev.payload.readBigUInt64LE(0)));
        return false;
      } else if (type >= 1 << EVENT_LOG_SHIFT) {
        h.onLog(type >>> EVENT_LOG_SHIFT, ev.payload.toString());
        return false;
      }
      return true;
    };
    const done = new Promise<void>((resolve, reject) => {
      let over = false;
      const sink: EventSink = {
        onEvent: (ev) => {
          if (failed) return false;
          try {
            return onEvent(ev);
          } catch (e) {
            // A payload this client cannot read (or an output that failed): end the run with that one reason.
            failed = e as Error;
            call?.cancel();
            return true;
          }
        },
        onEnd: (e) => {
          if (over) return;
          over = true;
          if (failed) reject(failed);
          else if (!e) resolve();
          else if (stopped && e.code === grpc.status.CANCELLED) resolve();
          else reject(remoteError(e, this.opts.address, this.tls));
        },
      };
      call = this.usesRawStream ? this.rawCall(metadata, sink) : this.grpcCall(metadata, sink);
    });
    call!.write(first);
    return {
      done,
      pause: (paused) => call!.pause(paused),
      stop: () => {
        if (stopped) return;
        stopped = true;
        // Ask the daemon to stop (a detached instance keeps running: the daemon only detaches us).
        call!.write({ stopRequest: {} });
        setTimeout(() => call!.cancel(), 2000).unref();
      },
    };
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
