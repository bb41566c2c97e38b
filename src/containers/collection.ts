/**
 * ContainerCollection: the set of running containers of every reachable runtime, kept current from the
 * runtimes' event streams, with lookups by mount / network namespace for enrichment.
 *
 * Identity. Namespace inode numbers are reused on this kind of host (two fresh containers in a row can get
 * the same mntns inode), so a container is identified by (mntns, pid, pid start time), never by the inode
 * alone:
 *   - a new container whose mntns equals a cached one's replaces it only if the cached one's process is dead
 *     (checked with its start time), and the dead one is reported removed first;
 *   - each entry holds open file descriptors on its /proc/<pid>/ns/{mnt,net} files, as upstream does, so the
 *     kernel cannot hand the inode to a new namespace while the entry is live or in the 2 s removed cache;
 *   - a periodic liveness sweep removes entries whose process is gone or is a different process (start
 *     time changed) even if the runtime never said so (e.g. its socket died).
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { procInfo, processStartUnixNs, sameProcess } from './proc.js';
import { everySecond } from '../runtime/second-tick.js';
import {
  RUNTIME_NAMES, type Container, type RuntimeClient, type RuntimeContainer, type RuntimeName,
} from './types.js';

export interface CollectionOptions {
  /** runtimes to use; default containerd,docker,cri-o,podman */
  runtimes?: string[];
  /** the runtimes were named by the user: an absent socket then gives a warning */
  explicitRuntimes?: boolean;
  containerdSocket?: string;
  dockerSocket?: string;
  podmanSocket?: string;
  crioSocket?: string;
  /** default k8s.io */
  containerdNamespace?: string;
  /** where warnings go (default: dropped) */
  warn?: (msg: string) => void;
  /** how long removed containers still answer byMntns/byNetns (default 2000 ms) */
  removedCacheMs?: number;
  /** period of the process-liveness sweep (default 1000 ms; 0 disables) */
  livenessIntervalMs?: number;
  /** CRI polling period (default 1000 ms) */
  criPollIntervalMs?: number;
  /**
   * Additional, already constructed runtime clients (tests, embedders). They are used as given, whatever
   * `runtimes` says; a failing one gives a warning like any runtime.
   */
  extraClients?: RuntimeClient[];
}

/** Default sockets (upstream's, below HOST_ROOT when that env var is set). */
export const DEFAULT_SOCKETS: Readonly<Record<RuntimeName, string>> = {
  docker: '/run/docker.sock',
  containerd: '/run/containerd/containerd.sock',
  'cri-o': '/run/crio/crio.sock',
  podman: '/run/podman/podman.sock',
};

export const DEFAULT_CONTAINERD_NAMESPACE = 'k8s.io';
const DEFAULT_REMOVED_CACHE_MS = 2000;
/** The liveness sweep's default period: the shared tick's. */
const SECOND_MS = 1000;

interface Entry {
  c: Container;
  key: string;
  fds: number[];
  removedAt?: number;
}

/**
 * Parse and validate a runtime list (`-r` values, each may be comma-separated). undefined = every runtime;
 * an empty list = none (only `extraClients`). Throws on an unknown name; duplicates are dropped.
 */
export function parseRuntimes(list: string[] | undefined): RuntimeName[] {
  if (!list) return [...RUNTIME_NAMES];
  const out: RuntimeName[] = [];
  for (const raw of list.flatMap((s) => s.split(','))) {
    const name = raw.trim();
    if (!name) continue;
    if (!(RUNTIME_NAMES as readonly string[]).includes(name)) {
      throw new Error(`runtime "${name}" is not supported (supported: ${RUNTIME_NAMES.join(', ')})`);
    }
    if (!out.includes(name as RuntimeName)) out.push(name as RuntimeName);
  }
  return out;
}

function withHostRoot(p: string): string {
  const root = process.env.HOST_ROOT;
  if (!root || root === '/') return p;
  // keep the path below HOST_ROOT even if it has ../ segments
  return path.join(root, path.resolve('/', p));
}

function isSocket(p: string): boolean {
  try { return fs.statSync(p).isSocket(); } catch { return false; }
}

function probe(socket: string, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    const t = setTimeout(() => { s.destroy(); reject(new Error('connection timed out')); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(); });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

function errText(e: unknown): string {
  const err = e as { code?: string; message?: string; details?: string };
  return err?.details || err?.message || String(e);
}

function keyOf(runtime: string, id: string): string {
  return `${runtime}/${id}`;
}

export class ContainerCollection extends EventEmitter {
  private readonly live = new Map<string, Entry>();
  /** live entries by mount namespace (the enrichment hot path) */
  private readonly liveByMnt = new Map<bigint, Entry[]>();
  private removed: Entry[] = [];
  private readonly clients: RuntimeClient[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopLiveness: (() => void) | undefined;
  private stopped = false;
  private readonly warnFn: (msg: string) => void;
  private readonly removedCacheMs: number;

  private constructor(private readonly opts: CollectionOptions) {
    super();
    this.warnFn = opts.warn ?? (() => undefined);
    this.removedCacheMs = opts.removedCacheMs ?? DEFAULT_REMOVED_CACHE_MS;
  }

  /** Connect to every configured runtime whose socket exists, list its containers, then follow its events. */
  static async start(opts: CollectionOptions = {}): Promise<ContainerCollection> {
    const col = new ContainerCollection(opts);
    const runtimes = parseRuntimes(opts.runtimes);
    await Promise.all([
      ...runtimes.map((r) => col.startRuntime(r)),
      ...(opts.extraClients ?? []).map((c) => col.startClient(c)),
    ]);
    const every = opts.livenessIntervalMs ?? SECOND_MS;
    if (every === SECOND_MS && !col.stopped) {
      // The default period rides the shared 1 s tick (unref'd): no wake-up of its own.
      col.stopLiveness = everySecond(() => col.sweep());
    } else if (every > 0 && !col.stopped) {
      const t = setInterval(() => col.sweep(), every);
      t.unref();
      col.stopLiveness = () => clearInterval(t);
    }
    return col;
  }

  /** containerd's namespaces and how many containers each has (empty when containerd is not connected). */
  async containerdNamespaces(): Promise<{ namespace: string; containers: number }[]> {
    const c = this.clients.find((x) => x.runtime === 'containerd') as { namespaceCensus?: () => Promise<{ namespace: string; containers: number }[]> } | undefined;
    if (!c?.namespaceCensus) return [];
    try {
      return await c.namespaceCensus();
    } catch (e) {
      this.warn(`containerd: cannot list its namespaces: ${errText(e)}`);
      return [];
    }
  }

  /** The containerd namespace followed. */
  get containerdNamespace(): string { return this.opts.containerdNamespace || DEFAULT_CONTAINERD_NAMESPACE; }

  /** Which runtimes are connected (their clients are following events). */
  connectedRuntimes(): RuntimeName[] {
    return this.clients.map((c) => c.runtime);
  }

  private socketFor(r: RuntimeName): { socket: string; explicitSocket: boolean } {
    const o = this.opts;
    const given = r === 'containerd' ? o.containerdSocket : r === 'docker' ? o.dockerSocket
      : r === 'podman' ? o.podmanSocket : o.crioSocket;
    return { socket: withHostRoot(given || DEFAULT_SOCKETS[r]), explicitSocket: !!given };
  }

  // Clients are loaded only when their runtime's socket exists: the gRPC ones load @grpc/grpc-js and parse
  // protos (~100 ms), the Docker API one loads node:http (about 1 MiB of start-up memory).
  private async makeClient(r: RuntimeName, socket: string): Promise<RuntimeClient> {
    switch (r) {
      case 'containerd': return new (await import('./containerd/client.js')).ContainerdClient(socket, this.opts.containerdNamespace || DEFAULT_CONTAINERD_NAMESPACE);
      case 'docker': return new (await import('./docker-api.js')).DockerApiClient('docker', socket);
      case 'podman': return new (await import('./docker-api.js')).DockerApiClient('podman', socket);
      case 'cri-o': return new (await import('./cri/client.js')).CriClient('cri-o', socket, this.opts.criPollIntervalMs ?? 1000);
    }
  }

  private async startRuntime(r: RuntimeName): Promise<void> {
    const { socket, explicitSocket } = this.socketFor(r);
    if (!isSocket(socket)) {
      if (this.opts.explicitRuntimes || explicitSocket) {
        this.warn(`${r}: socket ${socket} ${fs.existsSync(socket) ? 'is not a unix socket' : 'not found'}, runtime skipped`);
      }
      return;
    }
    try {
      await probe(socket);
    } catch (e) {
      this.warn(`${r}: cannot use ${socket}: ${errText(e)}`);
      return;
    }
    await this.startClient(await this.makeClient(r, socket));
  }

  /** Subscribe to a client's events, take its list, and keep it (warns and drops it on failure). */
  private async startClient(c: RuntimeClient): Promise<void> {
    const r = c.runtime;
    let lost = false;
    try {
      await c.watch({
        add: (rc) => this.addFromRuntime(rc),
        remove: (id) => this.removeByKey(keyOf(r, id)),
        lost: (err) => {
          lost = true;
          const i = this.clients.indexOf(c);
          if (i >= 0) this.clients.splice(i, 1);
          if (!this.stopped) this.warn(`${r}: lost connection to ${c.socket}: ${errText(err)}; its containers are no longer followed`);
        },
      });
      const listed = await c.list();
      if (this.stopped) { c.close(); return; }
      if (!lost) this.clients.push(c);
      // (if the stream died meanwhile, the listed containers are still kept until their processes exit)
      for (const rc of listed) this.addFromRuntime(rc);
      if (lost) return;
      // the subscription may have been registered a moment after the list was taken: list once more
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (this.stopped || !this.clients.includes(c)) return;
        c.list().then((again) => {
          if (this.stopped || !this.clients.includes(c)) return;
          for (const rc of again) if (!this.live.has(keyOf(r, rc.id))) this.addFromRuntime(rc);
        }, () => undefined);
      }, 1000);
      t.unref();
      this.timers.add(t);
    } catch (e) {
      c.close();
      if (!lost) this.warn(`${r}: cannot use ${c.socket}: ${errText(e)}`); // one warning per runtime
    }
  }

  private warn(msg: string): void {
    try { this.warnFn(msg); } catch { /* a throwing logger must not break the collection */ }
  }

  private emitSafe(ev: 'add' | 'remove', c: Container): void {
    try {
      this.emit(ev, c);
    } catch (e) {
      this.warn(`container ${ev} listener failed: ${errText(e)}`);
    }
  }

  /** Add (or refresh) a container reported running by a runtime. */
  private addFromRuntime(rc: RuntimeContainer): void {
    if (this.stopped || rc.pid <= 0) return;
    const key = keyOf(rc.runtime, rc.id);
    let info;
    try { info = procInfo(rc.pid); } catch { return; /* exited before we could look at it */ }

    const existing = this.live.get(key);
    if (existing) {
      const same = existing.c.pid === info.pid && existing.c.pidStartTime === info.pidStartTime && existing.c.mntns === info.mntns;
      if (same) return;
      this.removeByKey(key); // restarted: a new process, a new identity
    }
    // an inode shared with a cached container whose process is gone: that one is dead, report it first
    for (const other of [...(this.liveByMnt.get(info.mntns) ?? [])]) {
      if (other.c.mntns === info.mntns && !sameProcess(other.c.pid, other.c.pidStartTime)) this.removeByKey(other.key);
    }

    // pin the namespaces so their inodes cannot be reused while we may still answer for them
    const fds: number[] = [];
    for (const kind of ['mnt', 'net']) {
      try { fds.push(fs.openSync(`/proc/${rc.pid}/ns/${kind}`, 'r')); } catch { /* exited */ }
    }
    if (!sameProcess(info.pid, info.pidStartTime)) { // died while we pinned: nothing to track
      for (const fd of fds) try { fs.closeSync(fd); } catch { /* our own fd: closing cannot fail in a way we could act on */ }
      return;
    }
    const c: Container = {
      runtime: rc.runtime,
      id: rc.id,
      name: rc.name,
      imageName: rc.imageName,
      imageDigest: rc.imageDigest,
      pid: info.pid,
      mntns: info.mntns,
      netns: info.netns,
      cgroupPath: info.cgroupPath,
      cgroupId: info.cgroupId,
      startedAt: rc.startedAt || processStartUnixNs(info.pidStartTime),
      labels: rc.labels,
      k8s: rc.k8s,
      pidStartTime: info.pidStartTime,
    };
    const entry: Entry = { c, key, fds };
    this.live.set(key, entry);
    const same = this.liveByMnt.get(c.mntns);
    if (same) same.push(entry); else this.liveByMnt.set(c.mntns, [entry]);
    this.emitSafe('add', c);
  }

  private removeByKey(key: string): void {
    const e = this.live.get(key);
    if (!e) return;
    this.live.delete(key);
    const same = this.liveByMnt.get(e.c.mntns);
    if (same) {
      const rest = same.filter((x) => x !== e);
      if (rest.length) this.liveByMnt.set(e.c.mntns, rest); else this.liveByMnt.delete(e.c.mntns);
    }
    e.removedAt = Date.now();
    this.removed.push(e);
    const t = setTimeout(() => { this.timers.delete(t); this.purgeRemoved(); }, this.removedCacheMs + 10);
    t.unref();
    this.timers.add(t);
    this.emitSafe('remove', e.c);
  }

  private purgeRemoved(force = false): void {
    const now = Date.now();
    const keep: Entry[] = [];
    for (const e of this.removed) {
      if (!force && now - (e.removedAt ?? 0) < this.removedCacheMs) { keep.push(e); continue; }
      for (const fd of e.fds) try { fs.closeSync(fd); } catch { /* our own fd: closing cannot fail in a way we could act on */ }
      e.fds = [];
    }
    this.removed = keep;
  }

  private recentlyRemoved(): Container[] {
    const now = Date.now();
    const out: Container[] = [];
    for (let i = this.removed.length - 1; i >= 0; i--) { // newest first
      const e = this.removed[i]!;
      if (now - (e.removedAt ?? 0) < this.removedCacheMs) out.push(e.c);
    }
    return out;
  }

  /** Remove entries whose init process is gone (missed or late runtime events, dead runtime sockets). */
  private sweep(): void {
    if (this.stopped) return;
    for (const e of [...this.live.values()]) {
      if (!sameProcess(e.c.pid, e.c.pidStartTime)) this.removeByKey(e.key);
    }
  }

  /** Live containers. */
  list(): Container[] {
    return [...this.live.values()].map((e) => e.c);
  }

  /** The live container with this mount namespace, else one removed in the last 2 s (newest first). */
  byMntns(mntns: bigint): Container | undefined {
    const live = this.liveByMnt.get(mntns);
    if (live) return live[0]!.c;
    if (this.removed.length === 0) return undefined;
    return this.recentlyRemoved().find((c) => c.mntns === mntns);
  }

  /** Live containers in this network namespace; if none, those removed in the last 2 s. */
  byNetns(netns: number): Container[] {
    const live = [...this.live.values()].filter((e) => e.c.netns === netns).map((e) => e.c);
    if (live.length) return live;
    return this.recentlyRemoved().filter((c) => c.netns === netns);
  }

  /** Lookup by runtime + id (live only). */
  byId(runtime: RuntimeName, id: string): Container | undefined {
    return this.live.get(keyOf(runtime, id))?.c;
  }

  /** Disconnect from the runtimes and release everything. No events are emitted afterwards. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopLiveness?.();
    this.stopLiveness = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.clients.splice(0)) c.close();
    for (const e of this.live.values()) for (const fd of e.fds) try { fs.closeSync(fd); } catch { /* our own fd: closing cannot fail in a way we could act on */ }
    this.live.clear();
    this.liveByMnt.clear();
    this.purgeRemoved(true);
  }
}
