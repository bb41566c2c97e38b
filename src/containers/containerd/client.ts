/**
 * containerd runtime client: native gRPC API (Containers/List+Get, Tasks/List, Images/Get and the
 * Events/Subscribe stream) over containerd's unix socket, every call carrying the `containerd-namespace`
 * metadata.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type AnyClient, grpcErrorText, loadServices, protoDir, unary, unixTarget, waitReady,
} from '../grpc-util.js';
import {
  k8sFromLabels, podLabelsFrom, type RuntimeClient, type RuntimeContainer, type RuntimeWatchHandlers,
} from '../types.js';
import { decodeFields, fieldString, fieldUint } from './wire.js';

interface PbAny { type_url: string; value: Buffer }
interface PbTimestamp { seconds: string; nanos: number }
interface PbContainer {
  id: string; labels: Record<string, string>; image: string; runtime?: { name: string } | null;
  spec?: PbAny | null; created_at?: PbTimestamp | null; sandbox: string;
}
interface PbProcess { container_id: string; id: string; pid: number; status: number }
interface PbEnvelope { timestamp?: PbTimestamp | null; namespace: string; topic: string; event?: PbAny | null }

const TASK_RUNNING = 2;
const CALL_TIMEOUT_MS = 5000;

let services: ((name: string) => new (a: string, c: grpc.ChannelCredentials, o?: grpc.ChannelOptions) => AnyClient) | undefined;
function svc(name: string) {
  services ??= loadServices(protoDir('containerd/proto'),
    ['types.proto', 'containers.proto', 'tasks.proto', 'events.proto', 'images.proto', 'namespaces.proto']);
  return services(name);
}

function tsToUnixNs(ts: PbTimestamp | null | undefined): number {
  if (!ts) return 0;
  const s = Number(ts.seconds);
  if (!s) return 0;
  return s * 1e9 + (ts.nanos ?? 0);
}

/** Annotations of the OCI spec stored in a container record (JSON inside an Any). */
function specAnnotations(spec: PbAny | null | undefined): Record<string, string> {
  if (!spec?.value?.length) return {};
  try {
    const parsed = JSON.parse(spec.value.toString('utf8')) as { annotations?: Record<string, string> };
    return parsed.annotations ?? {};
  } catch {
    return {};
  }
}

function isSandbox(c: PbContainer, ann: Record<string, string>): boolean {
  return c.labels?.['io.cri-containerd.kind'] === 'sandbox' || ann['io.kubernetes.cri.container-type'] === 'sandbox';
}

export class ContainerdClient implements RuntimeClient {
  readonly runtime = 'containerd' as const;
  private readonly md = new grpc.Metadata();
  private readonly containers: AnyClient;
  private readonly tasks: AnyClient;
  private readonly events: AnyClient;
  private readonly images: AnyClient;
  private stream: grpc.ClientReadableStream<PbEnvelope> | undefined;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly digestCache = new Map<string, string>();

  constructor(readonly socket: string, readonly namespace: string) {
    this.md.set('containerd-namespace', namespace);
    const target = unixTarget(socket);
    const creds = grpc.credentials.createInsecure();
    // one channel shared by the four service stubs
    this.containers = new (svc('containerd.services.containers.v1.Containers'))(target, creds);
    const channelOverride = this.containers.getChannel();
    this.tasks = new (svc('containerd.services.tasks.v1.Tasks'))(target, creds, { channelOverride });
    this.events = new (svc('containerd.services.events.v1.Events'))(target, creds, { channelOverride });
    this.images = new (svc('containerd.services.images.v1.Images'))(target, creds, { channelOverride });
  }

  private call<T>(client: AnyClient, method: string, req: unknown): Promise<T> {
    return unary<T>(client, method, req, this.md, CALL_TIMEOUT_MS);
  }

  private async imageDigest(name: string): Promise<string> {
    if (!name) return '';
    const cached = this.digestCache.get(name);
    if (cached !== undefined) return cached;
    let digest = '';
    try {
      const res = await this.call<{ image?: { target?: { digest: string } | null } | null }>(this.images, 'Get', { name });
      digest = res.image?.target?.digest ?? '';
    } catch { /* image deleted since: leave empty */ }
    this.digestCache.set(name, digest);
    return digest;
  }

  private async podLabels(sandboxId: string, known?: Map<string, PbContainer>): Promise<Record<string, string>> {
    if (!sandboxId) return {};
    let sb = known?.get(sandboxId);
    if (!sb) {
      try {
        sb = (await this.call<{ container?: PbContainer | null }>(this.containers, 'Get', { id: sandboxId })).container ?? undefined;
      } catch { return {}; }
    }
    return podLabelsFrom(sb?.labels);
  }

  private async toRuntimeContainer(c: PbContainer, pid: number, startedAt: number, known?: Map<string, PbContainer>): Promise<RuntimeContainer | null> {
    const ann = specAnnotations(c.spec);
    if (isSandbox(c, ann)) return null; // k8s pause container
    const k8s = k8sFromLabels(c.labels, ann);
    k8s.podLabels = await this.podLabels(ann['io.kubernetes.cri.sandbox-id'] ?? c.sandbox ?? '', known);
    return {
      runtime: 'containerd',
      id: c.id,
      // upstream's rule: the Kubernetes container name when there is one, else the id (ctr names containers
      // by id); nerdctl's own name label is used before falling back to the id
      name: k8s.containerName || c.labels?.['nerdctl/name'] || c.id,
      imageName: c.image ?? '',
      imageDigest: await this.imageDigest(c.image ?? ''),
      pid,
      startedAt,
      labels: { ...(c.labels ?? {}) },
      k8s,
    };
  }

  async list(): Promise<RuntimeContainer[]> {
    const [cs, ts] = await Promise.all([
      this.call<{ containers: PbContainer[] }>(this.containers, 'List', { filters: [] }),
      this.call<{ tasks: PbProcess[] }>(this.tasks, 'List', { filter: '' }),
    ]);
    const pids = new Map<string, number>();
    for (const t of ts.tasks ?? []) {
      // Tasks/List reports the init process with `id` = container id (container_id is empty)
      const id = t.container_id || t.id;
      if (Number(t.status) === TASK_RUNNING && t.pid > 0) pids.set(id, t.pid);
    }
    const byId = new Map((cs.containers ?? []).map((c) => [c.id, c]));
    const out: RuntimeContainer[] = [];
    for (const c of cs.containers ?? []) {
      const pid = pids.get(c.id);
      if (!pid) continue;
      const rc = await this.toRuntimeContainer(c, pid, 0, byId);
      if (rc) out.push(rc);
    }
    return out;
  }

  /**
   * Containers per containerd namespace (all of them, not only the one followed): to say where the containers
   * are when the followed namespace has none (ctr and nerdctl use "default", Kubernetes "k8s.io").
   */
  async namespaceCensus(): Promise<{ namespace: string; containers: number }[]> {
    const nsClient = new (svc('containerd.services.namespaces.v1.Namespaces'))(unixTarget(this.socket), grpc.credentials.createInsecure(), { channelOverride: this.containers.getChannel() });
    const res = await unary<{ namespaces: { name: string }[] }>(nsClient, 'List', { filter: '' }, new grpc.Metadata(), CALL_TIMEOUT_MS);
    const out: { namespace: string; containers: number }[] = [];
    for (const { name } of res.namespaces ?? []) {
      const md = new grpc.Metadata();
      md.set('containerd-namespace', name);
      const cs = await unary<{ containers: PbContainer[] }>(this.containers, 'List', { filters: [] }, md, CALL_TIMEOUT_MS);
      out.push({ namespace: name, containers: (cs.containers ?? []).filter((c) => !isSandbox(c, specAnnotations(c.spec))).length });
    }
    return out;
  }

  async watch(h: RuntimeWatchHandlers): Promise<void> {
    await waitReady(this.containers, CALL_TIMEOUT_MS);
    // containerd's filter language: one filter string = AND of its comma-separated terms
    const filters = [
      `namespace==${JSON.stringify(this.namespace)},topic~="^/tasks/"`,
      `namespace==${JSON.stringify(this.namespace)},topic=="/containers/delete"`,
    ];
    const stream = this.events.Subscribe({ filters }, this.md) as grpc.ClientReadableStream<PbEnvelope>;
    this.stream = stream;
    let lostReported = false;
    const lost = (err: Error) => {
      if (this.closed || lostReported) return;
      lostReported = true;
      this.close();
      h.lost(err);
    };
    stream.on('data', (env: PbEnvelope) => {
      // One event that cannot be processed (its container went away while we asked about it) must not stop the
      // chain: later events still apply in order.
      this.chain = this.chain.then(() => this.onEvent(env, h)).catch(() => undefined);
    });
    stream.on('error', (err: Error) => lost(new Error(grpcErrorText(err))));
    stream.on('end', () => lost(new Error('event stream ended')));
    // the Subscribe RPC gives no acknowledgement; give the server a moment to register it
    await new Promise((r) => setTimeout(r, 30));
  }

  private async onEvent(env: PbEnvelope, h: RuntimeWatchHandlers): Promise<void> {
    if (this.closed || env.namespace !== this.namespace || !env.event?.value) return;
    const f = decodeFields(env.event.value);
    switch (env.topic) {
      // TaskCreate { container_id = 1; ...; pid = 6 }: the init process exists (runc waits on its exec fifo)
      // with its namespaces set up but has not run the container's command yet. Adding the container
      // now, rather than at /tasks/start, gets its mntns into filter maps before its first syscalls.
      case '/tasks/create':
      case '/tasks/start': { // TaskStart { container_id = 1; pid = 2 }
        const id = fieldString(f, 1);
        const pid = fieldUint(f, env.topic === '/tasks/create' ? 6 : 2);
        if (!id || !pid) return;
        let c: PbContainer | undefined;
        try {
          c = (await this.call<{ container?: PbContainer | null }>(this.containers, 'Get', { id })).container ?? undefined;
        } catch { return; /* already deleted */ }
        if (!c || this.closed) return;
        const rc = await this.toRuntimeContainer(c, pid, tsToUnixNs(env.timestamp));
        if (rc && !this.closed) h.add(rc);
        return;
      }
      case '/tasks/exit': { // TaskExit { container_id = 1; id = 2; pid = 3 }: only the init process ends the container
        const cid = fieldString(f, 1);
        const execId = fieldString(f, 2);
        if (cid && (!execId || execId === cid)) h.remove(cid);
        return;
      }
      case '/tasks/delete': { // TaskDelete { container_id = 1; pid = 2; exit_status = 3; exited_at = 4; id = 5 }
        const cid = fieldString(f, 1);
        const execId = fieldString(f, 5);
        if (cid && (!execId || execId === cid)) h.remove(cid);
        return;
      }
      case '/containers/delete': { // ContainerDelete { id = 1 }
        const id = fieldString(f, 1);
        if (id) h.remove(id);
        return;
      }
      default:
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try { this.stream?.cancel(); } catch { /* closing: a stream already ended has nothing left to cancel */ }
    for (const c of [this.containers, this.tasks, this.events, this.images]) {
      try { c.close(); } catch { /* closing: a client already closed has nothing left to release */ }
    }
  }
}
