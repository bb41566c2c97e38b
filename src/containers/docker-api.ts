/**
 * docker and podman runtime client: the Docker Engine REST API (v1.41) over the runtime's unix socket with
 * plain node:http. Podman's `podman system service` serves the same Docker-compatible endpoints.
 *
 *   GET /v1.41/containers/json            running containers
 *   GET /v1.41/containers/<id>/json       State.Pid, State.StartedAt, Config.Image, Config.Labels, Image
 *   GET /v1.41/images/<image id>/json     RepoDigests (image digest)
 *   GET /v1.41/events?filters=…           streamed JSON objects: start → add, die/destroy → remove
 */
import * as http from 'node:http';
import {
  k8sFromLabels, rfc3339ToUnixNs, type RuntimeClient, type RuntimeContainer, type RuntimeWatchHandlers,
} from './types.js';

const API = '/v1.41';
const CALL_TIMEOUT_MS = 5000;

interface InspectJSON {
  Id: string;
  Name?: string;
  Image?: string;
  State?: { Running?: boolean; Pid?: number; StartedAt?: string };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
}

interface EventJSON {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export class HttpStatusError extends Error {
  constructor(readonly status: number, msg: string) { super(msg); }
}

export class DockerApiClient implements RuntimeClient {
  private closed = false;
  private eventsReq: http.ClientRequest | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly digestCache = new Map<string, string>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(readonly runtime: 'docker' | 'podman', readonly socket: string) {}

  /** GET `path` and parse the JSON body. */
  request<T>(path: string, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socket, path, method: 'GET', agent: this.agent, headers: { Host: this.runtime } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) {
            let msg = body.trim();
            try { msg = (JSON.parse(body) as { message?: string }).message ?? msg; } catch { /* not JSON */ }
            reject(new HttpStatusError(res.statusCode ?? 0, `${path}: HTTP ${res.statusCode}: ${msg}`));
            return;
          }
          try { resolve(JSON.parse(body) as T); } catch (e) { reject(new Error(`${path}: bad JSON: ${String(e)}`)); }
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path}: timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  private async imageDigest(imageId: string): Promise<string> {
    if (!imageId) return '';
    const cached = this.digestCache.get(imageId);
    if (cached !== undefined) return cached;
    let digest = '';
    try {
      const img = await this.request<{ RepoDigests?: string[] | null; Digest?: string }>(`${API}/images/${encodeURIComponent(imageId)}/json`);
      const rd = (img.RepoDigests ?? []).find((d) => d.includes('@'));
      digest = rd ? rd.slice(rd.indexOf('@') + 1) : (img.Digest ?? '');
    } catch { /* fall back to the image id below */ }
    if (!digest) digest = imageId.startsWith('sha256:') ? imageId : `sha256:${imageId}`;
    this.digestCache.set(imageId, digest);
    return digest;
  }

  /** Inspect one container; null when it is not running (or gone). */
  async inspect(id: string): Promise<RuntimeContainer | null> {
    let j: InspectJSON;
    try {
      j = await this.request<InspectJSON>(`${API}/containers/${encodeURIComponent(id)}/json`);
    } catch (e) {
      if (e instanceof HttpStatusError && e.status === 404) return null;
      throw e;
    }
    const pid = j.State?.Pid ?? 0;
    if (!j.State?.Running || pid <= 0) return null;
    const labels = { ...(j.Config?.Labels ?? {}) };
    // dockershim / cri-dockerd pod sandboxes ("pause" containers)
    if (labels['io.kubernetes.docker.type'] === 'podsandbox') return null;
    return {
      runtime: this.runtime,
      id: j.Id,
      name: (j.Name ?? '').replace(/^\//, ''),
      imageName: j.Config?.Image ?? '',
      imageDigest: await this.imageDigest(j.Image ?? ''),
      pid,
      startedAt: rfc3339ToUnixNs(j.State?.StartedAt),
      labels,
      k8s: k8sFromLabels(labels),
    };
  }

  async list(): Promise<RuntimeContainer[]> {
    const items = await this.request<Array<{ Id: string }>>(`${API}/containers/json`);
    // A container removed between the list and its inspect is simply not listed.
    const out = await Promise.all(items.map((it) => this.inspect(it.Id).catch(() => null)));
    return out.filter((c): c is RuntimeContainer => c !== null);
  }

  watch(h: RuntimeWatchHandlers): Promise<void> {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'] }));
    return new Promise<void>((resolve, reject) => {
      let subscribed = false;
      let lostReported = false;
      const lost = (err: Error) => {
        if (!subscribed) { reject(err); return; }
        if (this.closed || lostReported) return;
        lostReported = true;
        this.close();
        h.lost(err);
      };
      // a dedicated connection (no agent): the stream stays open for the collection's lifetime
      const req = http.request({ socketPath: this.socket, path: `${API}/events?filters=${filters}`, method: 'GET', agent: false, headers: { Host: this.runtime } }, (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          res.resume();
          lost(new Error(`events: HTTP ${res.statusCode}`));
          return;
        }
        subscribed = true;
        resolve();
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          // the stream is a sequence of JSON objects, one per line (docker and podman both newline-terminate)
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            let ev: EventJSON;
            try { ev = JSON.parse(line) as EventJSON; } catch { continue; }
            // One event that cannot be processed (container gone while inspected) must not stop the later ones.
            this.chain = this.chain.then(() => this.onEvent(ev, h)).catch(() => undefined);
          }
        });
        res.on('error', (e) => lost(e.message === 'aborted' ? new Error(`connection closed by ${this.runtime}`) : e));
        res.on('end', () => lost(new Error('event stream ended')));
        res.on('close', () => lost(new Error('event stream closed')));
      });
      req.on('error', (e) => lost(e));
      req.setTimeout(CALL_TIMEOUT_MS, () => { if (!subscribed) req.destroy(new Error('events: no response')); });
      req.end();
      this.eventsReq = req;
    }).then(() => { this.eventsReq?.setTimeout(0); });
  }

  private async onEvent(ev: EventJSON, h: RuntimeWatchHandlers): Promise<void> {
    if (this.closed) return;
    if (ev.Type && ev.Type !== 'container') return;
    const action = ev.Action ?? ev.status ?? '';
    const id = ev.Actor?.ID ?? ev.id ?? '';
    if (!id) return;
    switch (action) {
      case 'start': {
        let c: RuntimeContainer | null = null;
        try { c = await this.inspect(id); } catch { return; }
        if (c && !this.closed) h.add(c);
        return;
      }
      case 'die': case 'died': case 'destroy': case 'remove':
        h.remove(id);
        return;
      default:
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try { this.eventsReq?.destroy(); } catch { /* closing: a request already ended has nothing left to release */ }
    this.agent.destroy();
  }
}
