// One gadget-service client per node, each through its own port-forward tunnel to the node's gadget pod. Calls go
// to every node at once (bounded: at most `concurrency` in flight), and each node's failure is its own result, said
// with the node's name and the tunnel's reason rather than a local socket's.
import type { KubeConfig } from '@kubernetes/client-node';
import { GadgetClient, type ClientTls } from '../../service/client.js';
import { PodTunnel } from '../../kube/port-forward.js';
import { GADGET_SERVICE_PORT } from '../../kube/manifests.js';
import type { GadgetTarget } from '../../kube/gadget-pods.js';

export interface NodeConnOptions {
  connectTimeoutSec: number;
  port?: number;
  tls?: ClientTls;
}

export class NodeConn {
  private tunnel?: PodTunnel;
  private clientP?: Promise<GadgetClient>;

  constructor(private readonly kc: KubeConfig, public target: GadgetTarget, private readonly opts: NodeConnOptions) {}

  get node(): string { return this.target.node; }

  client(): Promise<GadgetClient> {
    if (!this.clientP) {
      this.clientP = (async () => {
        this.tunnel = new PodTunnel(this.kc, { namespace: this.target.namespace, pod: this.target.pod, port: this.opts.port ?? GADGET_SERVICE_PORT });
        const address = await this.tunnel.start();
        return new GadgetClient({ address, connectTimeoutSec: this.opts.connectTimeoutSec, tls: this.opts.tls });
      })();
    }
    return this.clientP;
  }

  /** An error of a call on this node as one line: the tunnel's reason when it had one (pod gone, forbidden). */
  explain(e: unknown): string {
    const tunnelWhy = this.tunnel?.lastError;
    const msg = (e as Error)?.message?.split('\n')[0] ?? String(e);
    if (tunnelWhy && /cannot reach the ig daemon|Connection dropped|ECONNRESET|Failed to connect|socket closed|No connection established|Call cancelled/i.test(msg)) return tunnelWhy;
    // The local end of the tunnel is an implementation detail: name the pod instead.
    return msg.replace(/at tcp:\/\/127\.0\.0\.1:\d+/, `in pod ${this.target.namespace}/${this.target.pod}`);
  }

  /** Point at another pod (the node's gadget pod was replaced); the next call opens a new tunnel. */
  async retarget(t: GadgetTarget): Promise<void> {
    await this.close();
    this.target = t;
  }

  async close(): Promise<void> {
    const c = this.clientP;
    this.clientP = undefined;
    if (c) { try { (await c).close(); } catch { /* the tunnel never started: nothing to close */ } }
    const t = this.tunnel;
    this.tunnel = undefined;
    await t?.close();
  }
}

export type NodeResult<T> = { node: string; ok: true; value: T } | { node: string; ok: false; error: string };

/** Run `fn` on every node, at most `concurrency` at a time; every node gets its own result. */
export async function onEveryNode<T>(conns: NodeConn[], fn: (c: GadgetClient, conn: NodeConn) => Promise<T>, concurrency = 32): Promise<NodeResult<T>[]> {
  const out: NodeResult<T>[] = new Array(conns.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const k = next++;
      if (k >= conns.length) return;
      const conn = conns[k]!;
      try {
        out[k] = { node: conn.node, ok: true, value: await fn(await conn.client(), conn) };
      } catch (e) {
        out[k] = { node: conn.node, ok: false, error: conn.explain(e) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, conns.length) }, worker));
  return out;
}
