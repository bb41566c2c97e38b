// A client of the gadget service (gadgetctl, tests): connect over unix or TCP (TLS, mutual TLS), call the
// instance and info methods, run or attach to a gadget and receive its events decoded into data sources.
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ApiGadgetEvent, ApiGadgetInfo, ApiGadgetInstance, ApiInfoResponse, ApiControlRequest, ApiRunRequest } from './proto.js';
import { clientServiceOf, decodeClientMessage } from './client-proto.js';
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

  constructor(readonly opts: ClientOptions) {
    const a = parseAddress(opts.address);
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

  /** Run a gadget (or attach to an instance: `attachId`) and stream its events to the handlers. */
  run(req: { imageName?: string; paramValues?: Record<string, string>; timeoutMs?: number; logLevel?: number; attachId?: string }, h: RunHandlers): RunHandle {
    const c = this.client('GadgetManager');
    const md = new grpc.Metadata();
    if (this.opts.wireForm !== 'upstream') md.set(WIRE_FORM_METADATA, WIRE_FORM_BATCH); // batches, not one event per message
    const call = (c['RunGadget'] as (md: grpc.Metadata) => grpc.ClientDuplexStream<ApiControlRequest, ApiGadgetEvent>).call(c, md);
    let fresh = false;
    const dss = new Map<string, DataSource>();
    const decoder = new PacketDecoder({ onDataSource: (ds) => { dss.set(ds.name, ds); fresh = true; } });
    // Upstream's form: data sources from the latest GadgetInfo, sequence numbers to count what was dropped.
    let lastInfo: ApiGadgetInfo | undefined;
    let upstream: Map<number, UpstreamSource> | undefined;
    let expectedSeq = 1;
    const first: ApiControlRequest = req.attachId
      ? { attachRequest: { id: req.attachId, version: VERSION_GADGET_RUN_PROTOCOL } }
      : { runRequest: { imageName: req.imageName ?? '', paramValues: req.paramValues ?? {}, args: [], version: VERSION_GADGET_RUN_PROTOCOL, logLevel: req.logLevel ?? 3, timeout: String(BigInt(Math.round(req.timeoutMs ?? 0)) * 1000000n) } };
    call.write(first);
    // Raw batch frames: the handlers learn of a data source announced in the same payload before its first batch.
    const onFrame = h.onBatchFrame;
    const raw: RawBatchReader | undefined = onFrame && ((ds, frame, start, end, decode) => {
      if (fresh) { fresh = false; h.onDataSources([...dss.values()]); }
      return onFrame(ds, frame, start, end, decode);
    });
    let stopped = false;
    let failed: Error | undefined;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (ev: ApiGadgetEvent) => {
        try {
          onEvent(ev);
        } catch (e) {
          // A payload this client cannot read (or an output that failed): end the run with that one reason.
          failed = e as Error;
          call.cancel();
        }
      });
      const onEvent = (ev: ApiGadgetEvent): void => {
        const type = ev.type >>> 0;
        if (type === EventType.GadgetBatch) {
          const out = decoder.decode(ev.payload, raw);
          if (fresh) { fresh = false; h.onDataSources([...dss.values()]); }
          for (const d of out) h.onBatch(d.ds, d.batch);
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
        } else if (type >= 1 << EVENT_LOG_SHIFT) {
          h.onLog(type >>> EVENT_LOG_SHIFT, ev.payload.toString());
        }
      };
      call.on('error', (e: grpc.ServiceError) => {
        if (failed) reject(failed);
        else if (stopped && e.code === grpc.status.CANCELLED) resolve();
        else reject(remoteError(e, this.opts.address, this.tls));
      });
      call.on('end', () => resolve());
    });
    return {
      done,
      pause: (paused) => { if (paused) call.pause(); else call.resume(); },
      stop: () => {
        if (stopped) return;
        stopped = true;
        // Ask the daemon to stop (a detached instance keeps running: the daemon only detaches us).
        call.write({ stopRequest: {} });
        setTimeout(() => call.cancel(), 2000).unref();
      },
    };
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
