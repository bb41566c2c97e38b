// A local TCP endpoint whose every connection is carried to a port inside a pod through the API server's
// pods/portforward subresource (WebSocket, v4.channel.k8s.io, @kubernetes/client-node's PortForward): how
// kubectl-gadget reaches each node's gadget service, as upstream dials its gRPC connections through SPDY port-forward.
// grpc-js cannot take a custom dialer, so the tunnel listens on 127.0.0.1:<ephemeral> and grpc-js dials that.
import * as net from 'node:net';
import { Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';

export interface PodTunnelOptions {
  namespace: string;
  pod: string;
  port: number;
  /** Called once per failure the tunnel saw (API server refused, pod gone, nothing listening in the pod). */
  onError?: (msg: string) => void;
}

type Ws = { close(): void; on?(ev: string, fn: (...a: unknown[]) => void): void; readyState?: number };

export class PodTunnel {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sockets2ws = new Map<net.Socket, Ws>();
  /** The last reason a connection failed: the caller's error message names it instead of a local socket. */
  lastError?: string;
  private closed = false;

  constructor(private readonly kc: KubeConfig, readonly opts: PodTunnelOptions) {}

  /** Listen; resolves to the address a GadgetClient dials (tcp://127.0.0.1:PORT). */
  async start(): Promise<string> {
    const server = net.createServer((sock) => this.onConnection(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    const a = server.address() as net.AddressInfo;
    return `tcp://127.0.0.1:${a.port}`;
  }

  private fail(msg: string): void {
    this.lastError = msg;
    this.opts.onError?.(msg);
  }

  private onConnection(sock: net.Socket): void {
    if (this.closed) { sock.destroy(); return; }
    this.sockets.add(sock);
    sock.on('close', () => {
      this.sockets.delete(sock);
      const ws = this.sockets2ws.get(sock);
      this.sockets2ws.delete(sock);
      try { ws?.close(); } catch { /* already closing: nothing left to release */ }
    });
    sock.on('error', () => sock.destroy());
    // The error channel of the forwarded port: the kubelet's (or the fake's) reason, e.g. nothing listens there.
    let errText = '';
    const err = new Writable({
      write: (chunk: Buffer, _enc, cb) => { errText += chunk.toString(); cb(); },
      final: (cb) => { cb(); },
    });
    err.on('finish', () => { if (errText.trim()) { this.fail(`port-forward to ${this.opts.pod}:${this.opts.port}: ${errText.trim()}`); sock.destroy(); } });
    // disconnectOnErr=false: a message on an unknown channel is not a reason to drop the gRPC connection.
    const pf = new PortForward(this.kc, false);
    pf.portForward(this.opts.namespace, this.opts.pod, [this.opts.port], sock, err, sock).then((ws) => {
      const w = ws as unknown as Ws;
      if (sock.destroyed) { try { w.close(); } catch { /* closing a socket nobody uses any more */ } return; }
      this.sockets2ws.set(sock, w);
      w.on?.('close', () => {
        if (errText.trim()) this.fail(`port-forward to ${this.opts.pod}:${this.opts.port}: ${errText.trim()}`);
        sock.destroy();
      });
      w.on?.('error', (e: unknown) => { this.fail(`port-forward to ${this.opts.pod}: ${(e as Error).message}`); sock.destroy(); });
    }, (e: unknown) => {
      this.fail(`port-forward to pod ${this.opts.namespace}/${this.opts.pod}: ${wsErrorText(e)}`);
      sock.destroy();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}

/** ws's errors for a refused upgrade ("Unexpected server response: 403") as words. */
function wsErrorText(e: unknown): string {
  const ev = e as { message?: string; error?: Error; code?: string };
  const msg = ev?.error?.message ?? ev?.message ?? String(e);
  const m = /Unexpected server response: (\d+)/.exec(msg);
  if (m) {
    const code = Number(m[1]);
    if (code === 403) return 'forbidden (the user may not create pods/portforward in this namespace)';
    if (code === 404) return 'pod not found';
    if (code === 401) return 'unauthorized';
    return `the API server answered HTTP ${code}`;
  }
  const c = (ev?.error as NodeJS.ErrnoException | undefined)?.code ?? ev?.code;
  if (c === 'ECONNREFUSED') return 'cannot reach the Kubernetes API server (ECONNREFUSED)';
  return msg.split('\n')[0]!;
}
