// The daemon's gRPC server: GadgetManager (GetGadgetInfo, RunGadget), GadgetInstanceManager and
// BuiltInGadgetManager on a unix socket (0600, or 0660 with a group) or TCP (TLS, mutual with a client CA, or
// plain only when asked for).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serviceOf, type ApiControlRequest, type ApiCreateInstanceRequest, type ApiGadgetEvent, type ApiGadgetInstance } from './proto.js';
import { WIRE_FORM_METADATA, WIRE_FORM_BATCH, GADGET_INFO_FLAG_USE_INSTANCE, VERSION_GADGET_INFO, VERSION_GADGET_RUN_PROTOCOL, DEFAULT_EVENT_BUFFER_LENGTH } from './consts.js';
import { serializeGadgetEvent } from './event-serialize.js';
import { GadgetRun, type RunOptions } from './gadget-run.js';
import { ClientStream } from './client-stream.js';
import { Http2EventWriter } from './http2-event-writer.js';
import { WarmRuns } from './warm-runs.js';
import { installStoreCoreBtf, type StoreCoreBtf } from '../runtime/core-btf-store.js';
import { InstanceManager, timeoutMsOf } from './instances.js';
import { InstanceStore } from './instance-store.js';
import { ServiceError, statusOf } from './errors.js';
import type { Address } from './address.js';
import { Logger } from '../gadget/logger.js';

export interface TlsFiles { key: string; cert: string; clientCa?: string }

export interface DaemonOptions {
  address: Address;
  /** Group owning the unix socket (mode 0660); without it the socket is 0600 (root only). */
  gid?: number;
  eventBufferLength?: number;
  tls?: TlsFiles;
  /** Plain TCP without TLS, explicitly allowed. */
  insecure?: boolean;
  instancesDir: string;
  run?: RunOptions;
  serverVersion: string;
  log?: Logger;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

function unary<Req, Res>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res): Unary<Req, Res> {
  return (call, cb) => {
    Promise.resolve().then(() => fn(call.request, call)).then((res) => cb(null, res), (e) => cb(statusOf(e) as grpc.ServiceError));
  };
}

export class GadgetDaemon {
  readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20 });
  readonly instances: InstanceManager;
  private readonly log: Logger;
  /** Client runs (RunGadget) and their ends, so a stopping daemon waits for their kernel objects to go. */
  private readonly runs = new Map<GadgetRun, Promise<void>>();
  private readonly bufferLength: number;
  /** Assemblies made for GetGadgetInfo, reused by the RunGadget that usually follows (first-event latency). */
  private readonly warm = new WarmRuns();
  /** Minimized kernel BTF per object, in the store as for `ig run` (runtime/core-btf-store.ts); IG_CORE_BTF=0: none. */
  private btf: StoreCoreBtf | undefined;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log ?? new Logger('info');
    this.bufferLength = opts.eventBufferLength && opts.eventBufferLength > 0 ? opts.eventBufferLength : DEFAULT_EVENT_BUFFER_LENGTH;
    const runOpts: RunOptions = { ...opts.run, daemonLog: this.log };
    this.instances = new InstanceManager(new InstanceStore(opts.instancesDir), runOpts, this.log, this.bufferLength);
    this.server.addService(serviceOf('BuiltInGadgetManager').service, {
      GetInfo: unary(() => ({ version: opts.serverVersion, experimental: false, serverVersion: opts.serverVersion })),
    });
    // RunGadget's events (a batch each) are written by hand into a reused scratch (event-serialize.ts).
    const manager = serviceOf('GadgetManager').service;
    const managerDef = { ...manager, RunGadget: { ...manager['RunGadget']!, responseSerialize: serializeGadgetEvent } };
    this.server.addService(managerDef, {
      GetGadgetInfo: unary(async (req: { imageName: string; paramValues: Record<string, string>; version: number; flags: number }) => {
        if (req.version !== VERSION_GADGET_INFO) throw new ServiceError(grpc.status.FAILED_PRECONDITION, `unsupported GadgetInfo version ${req.version}: this daemon speaks version ${VERSION_GADGET_INFO}`);
        if (req.flags & GADGET_INFO_FLAG_USE_INSTANCE) return { gadgetInfo: { ...this.instances.runOf(req.imageName).info, id: req.imageName } };
        const params = req.paramValues ?? {};
        const t0 = performance.now();
        const run = await GadgetRun.prepare(req.imageName, params, runOpts);
        this.log.debug(`GetGadgetInfo ${req.imageName}: assembled in ${Math.round(performance.now() - t0)} ms`);
        // A client asks for the info right before it runs the image (gadgetctl does): keep this assembly for that run.
        // A recording's assembly holds its file and is not kept (its feed runs once): the run assembles anew.
        if (run.recording) run.discard();
        else if (Object.keys(params).length === 0) this.warm.put(req.imageName, run);
        return { gadgetInfo: run.info };
      }),
      RunGadget: (call: grpc.ServerDuplexStream<ApiControlRequest, ApiGadgetEvent>) => this.runGadget(call, runOpts),
    });
    this.server.addService(serviceOf('GadgetInstanceManager').service, {
      CreateGadgetInstance: unary(async (req: ApiCreateInstanceRequest) => ({ result: 0, gadgetInstance: await this.instances.create(req) })),
      ListGadgetInstances: unary(() => ({ gadgetInstances: this.instances.list() })),
      GetGadgetInstance: unary((req: { id: string }): ApiGadgetInstance => this.instances.get(req.id)),
      RemoveGadgetInstance: unary(async (req: { id: string }) => {
        try { await this.instances.remove(req.id); } catch (e) { return { result: 1, message: statusOf(e).details }; }
        return { result: 0, message: '' };
      }),
    });
  }

  private runGadget(call: grpc.ServerDuplexStream<ApiControlRequest, ApiGadgetEvent>, runOpts: RunOptions): void {
    let first = true;
    let run: GadgetRun | undefined;
    let client: ClientStream | undefined;
    let gone = false;
    let detachFrom: GadgetRun | undefined;
    const peer = call.getPeer();
    const leave = (why: string) => {
      if (gone) return;
      gone = true;
      this.log.debug(`client ${peer}: ${why}`);
      if (detachFrom && client) detachFrom.detach(client);
      run?.stop(why);
    };
    call.on('cancelled', () => leave('cancelled'));
    call.on('end', () => leave('closed its side'));
    call.on('error', (e) => leave(`error: ${(e as Error).message}`));
    call.on('data', (msg: ApiControlRequest) => {
      if (!first) {
        if (msg.stopRequest) leave('asked to stop');
        return;
      }
      first = false;
      // ig's own client asks for the batch form in a header; every other client gets upstream's per-event payloads.
      const form = call.metadata.get(WIRE_FORM_METADATA).some((v) => String(v) === WIRE_FORM_BATCH) ? 'batch' : 'upstream';
      // Events go onto the HTTP/2 stream without grpc-js's copy of each message (http2-event-writer.ts).
      client = new ClientStream(Http2EventWriter.of(call) ?? call, this.bufferLength, form);
      if (msg.attachRequest) {
        const a = msg.attachRequest;
        if (a.version !== VERSION_GADGET_RUN_PROTOCOL) { client.close({ code: grpc.status.FAILED_PRECONDITION, details: `unsupported run protocol version ${a.version}: this daemon speaks version ${VERSION_GADGET_RUN_PROTOCOL}` }); return; }
        try { detachFrom = this.instances.attach(a.id, client); } catch (e) { client.close(statusOf(e)); }
        return;
      }
      const req = msg.runRequest;
      if (!req) { client.close({ code: grpc.status.INVALID_ARGUMENT, details: 'the first message of RunGadget must be a run or attach request' }); return; }
      if (req.version !== VERSION_GADGET_RUN_PROTOCOL) { client.close({ code: grpc.status.FAILED_PRECONDITION, details: `unsupported run protocol version ${req.version}: this daemon speaks version ${VERSION_GADGET_RUN_PROTOCOL}` }); return; }
      const c = client;
      const warm = this.warm.take(req.imageName, req.logLevel);
      const t0 = performance.now();
      const prepared = warm ? Promise.resolve(warm).then((w) => { w.setParams(req.paramValues ?? {}); return w; }) : GadgetRun.prepare(req.imageName, req.paramValues ?? {}, { ...runOpts, logLevel: req.logLevel });
      prepared.then(async (r) => {
        run = r;
        if (gone) return;
        r.startedAt = t0;
        this.log.debug(`RunGadget ${req.imageName}: ${warm ? 'the assembly of GetGadgetInfo' : `assembled in ${Math.round(performance.now() - t0)} ms`}`);
        r.attach(c);
        const ended = r.run(timeoutMsOf(req.timeout));
        // Kept only to wait for the run at shutdown; its error goes to the client through the stream below.
        this.runs.set(r, ended.catch(() => undefined));
        try {
          await ended;
          c.close();
        } finally {
          this.runs.delete(r);
        }
      }).catch((e) => c.close(statusOf(e)));
    });
  }

  async start(): Promise<void> {
    const a = this.opts.address;
    let creds: grpc.ServerCredentials;
    if (this.opts.tls) {
      const t = this.opts.tls;
      const ca = t.clientCa ? fs.readFileSync(t.clientCa) : null;
      creds = grpc.ServerCredentials.createSsl(ca, [{ private_key: fs.readFileSync(t.key), cert_chain: fs.readFileSync(t.cert) }], Boolean(ca));
    } else {
      if (a.type === 'tcp' && !this.opts.insecure) throw new ServiceError(grpc.status.FAILED_PRECONDITION, `no TLS configuration for ${a.target}: give --tls-key-file and --tls-cert-file, or --tls-insecure to allow plain TCP`);
      creds = grpc.ServerCredentials.createInsecure();
    }
    this.btf = installStoreCoreBtf(this.log);
    await this.instances.resume();
    if (a.type === 'unix') {
      fs.mkdirSync(path.dirname(a.path), { recursive: true, mode: 0o755 });
      removeStaleSocket(a.path);
      // Created 0600 under this umask, so no other user can connect between bind and chmod.
      const old = process.umask(0o177);
      try { await this.bind(a.target, creds); } finally { process.umask(old); }
      if (this.opts.gid !== undefined) {
        fs.chownSync(a.path, 0, this.opts.gid);
        fs.chmodSync(a.path, 0o660);
      } else {
        fs.chmodSync(a.path, 0o600);
      }
    } else {
      await this.bind(a.target, creds);
    }
  }

  private bind(target: string, creds: grpc.ServerCredentials): Promise<number> {
    return new Promise((resolve, reject) => this.server.bindAsync(target, creds, (err, port) => (err ? reject(new Error(`cannot listen on ${target}: ${err.message}`)) : resolve(port))));
  }

  /** Stop accepting, end every run (their kernel objects are released), keep the stored instances. */
  async stop(): Promise<void> {
    for (const r of this.runs.keys()) r.stop('daemon stopping');
    await Promise.all([...this.runs.values(), this.instances.stopAll()]);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { this.server.forceShutdown(); resolve(); }, 2000);
      t.unref();
      this.server.tryShutdown(() => { clearTimeout(t); resolve(); });
    });
    if (this.opts.address.type === 'unix') removeStaleSocket(this.opts.address.path);
    this.btf?.close();
  }
}

function removeStaleSocket(p: string): void {
  let st: fs.Stats;
  try { st = fs.lstatSync(p); } catch { return; } // nothing there
  if (!st.isSocket()) throw new Error(`${p} exists and is not a socket; not replacing it`);
  fs.unlinkSync(p);
}
