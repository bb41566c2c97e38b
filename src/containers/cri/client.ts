/**
 * CRI runtime client (used for CRI-O): `runtime.v1.RuntimeService` over the runtime's unix socket.
 *
 *   ListContainers(state=RUNNING)        which containers run
 *   ContainerStatus(id, verbose=true)    image, start time, labels/annotations, and (verbose) info["info"]
 *                                        = JSON with the init process "pid"
 *   ListPodSandbox                       pod labels
 *
 * CRI has no portable event stream on the runtimes we target, so "watch" polls ListContainers (default
 * every second) and diffs the running set: new ids → add, vanished ids → remove.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type AnyClient, grpcErrorText, loadServices, protoDir, unary, unixTarget, waitReady,
} from '../grpc-util.js';
import {
  k8sFromLabels, podLabelsFrom, type RuntimeClient, type RuntimeContainer, type RuntimeWatchHandlers,
} from '../types.js';

interface PbContainer {
  id: string; pod_sandbox_id: string; metadata?: { name: string } | null; image?: { image: string } | null;
  image_ref: string; state: string; labels: Record<string, string>; annotations: Record<string, string>;
}
interface PbStatus {
  id: string; metadata?: { name: string } | null; state: string; started_at: string;
  image?: { image: string } | null; image_ref: string; labels: Record<string, string>; annotations: Record<string, string>;
}
interface PbSandbox { id: string; labels: Record<string, string> }

const CALL_TIMEOUT_MS = 5000;

let ctor: (new (a: string, c: grpc.ChannelCredentials, o?: grpc.ChannelOptions) => AnyClient) | undefined;
function runtimeServiceCtor() {
  ctor ??= loadServices(protoDir('cri/proto'), ['api.proto'])('runtime.v1.RuntimeService');
  return ctor;
}

/** `quay.io/x@sha256:…` → `sha256:…`; a bare digest / image id is returned as is. */
function digestOf(imageRef: string): string {
  const at = imageRef.lastIndexOf('@');
  if (at >= 0) return imageRef.slice(at + 1);
  if (/^[0-9a-f]{64}$/.test(imageRef)) return `sha256:${imageRef}`;
  return imageRef;
}

export class CriClient implements RuntimeClient {
  private readonly client: AnyClient;
  private readonly md = new grpc.Metadata();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private known = new Set<string>();

  constructor(readonly runtime: 'cri-o', readonly socket: string, private readonly pollMs = 1000) {
    this.client = new (runtimeServiceCtor())(unixTarget(socket), grpc.credentials.createInsecure());
  }

  private call<T>(method: string, req: unknown): Promise<T> {
    return unary<T>(this.client, method, req, this.md, CALL_TIMEOUT_MS);
  }

  private async runningIds(): Promise<PbContainer[]> {
    const res = await this.call<{ containers: PbContainer[] }>('ListContainers', {
      filter: { state: { state: 'CONTAINER_RUNNING' } },
    });
    // a runtime that ignores the filter: check the state ourselves
    return (res.containers ?? []).filter((c) => c.state === 'CONTAINER_RUNNING');
  }

  private async sandboxLabels(): Promise<Map<string, Record<string, string>>> {
    try {
      const res = await this.call<{ items: PbSandbox[] }>('ListPodSandbox', {});
      return new Map((res.items ?? []).map((s) => [s.id, s.labels ?? {}]));
    } catch {
      return new Map();
    }
  }

  private async status(c: PbContainer, sandboxes: Map<string, Record<string, string>>): Promise<RuntimeContainer | null> {
    let res: { status?: PbStatus | null; info: Record<string, string> };
    try {
      res = await this.call('ContainerStatus', { container_id: c.id, verbose: true });
    } catch {
      return null; // gone meanwhile
    }
    const st = res.status;
    if (!st || st.state !== 'CONTAINER_RUNNING') return null;
    let pid = 0;
    try {
      const info = JSON.parse(res.info?.info ?? '{}') as { pid?: number };
      pid = Number(info.pid ?? 0);
    } catch { /* no verbose info */ }
    if (!pid) return null;
    const labels = { ...(c.labels ?? {}), ...(st.labels ?? {}) };
    const annotations = { ...(c.annotations ?? {}), ...(st.annotations ?? {}) };
    const k8s = k8sFromLabels(labels, annotations);
    k8s.podLabels = podLabelsFrom(sandboxes.get(c.pod_sandbox_id));
    const name = st.metadata?.name || c.metadata?.name || '';
    return {
      runtime: this.runtime,
      id: c.id,
      // upstream's runtime container name for CRI runtimes is the CRI metadata name
      name,
      imageName: st.image?.image || c.image?.image || '',
      imageDigest: digestOf(st.image_ref || c.image_ref || ''),
      pid,
      startedAt: Number(st.started_at ?? 0),
      labels,
      k8s,
    };
  }

  async list(): Promise<RuntimeContainer[]> {
    const cs = await this.runningIds();
    const sandboxes = await this.sandboxLabels();
    const out = await Promise.all(cs.map((c) => this.status(c, sandboxes)));
    return out.filter((c): c is RuntimeContainer => c !== null);
  }

  async watch(h: RuntimeWatchHandlers): Promise<void> {
    await waitReady(this.client, CALL_TIMEOUT_MS);
    this.known = new Set((await this.runningIds()).map((c) => c.id));
    const tick = async () => {
      if (this.closed) return;
      try {
        const cs = await this.runningIds();
        if (this.closed) return;
        const now = new Set(cs.map((c) => c.id));
        for (const id of this.known) if (!now.has(id)) h.remove(id);
        const fresh = cs.filter((c) => !this.known.has(c.id));
        this.known = now;
        if (fresh.length) {
          const sandboxes = await this.sandboxLabels();
          for (const c of fresh) {
            const rc = await this.status(c, sandboxes);
            if (rc && !this.closed) h.add(rc);
          }
        }
      } catch (e) {
        if (this.closed) return;
        this.close();
        h.lost(new Error(grpcErrorText(e)));
        return;
      }
      if (!this.closed) this.timer = setTimeout(() => void tick(), this.pollMs);
    };
    this.timer = setTimeout(() => void tick(), this.pollMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    try { this.client.close(); } catch { /* closing: a channel already closed has nothing left to release */ }
  }
}
