// One pod source and one inventory per process, shared by the runs that use them (a daemon runs many gadgets
// on a node: each would otherwise list and watch the same pods). Handles count references: the first start
// starts the underlying source, the last stop stops it; each handle's listeners go with it.
import type { KubeInventory, KubeLog, PodChange, PodInfo, PodSource, ServiceInfo } from '../operators/common/pod-source.js';

class RefCounted<T extends { start(log: KubeLog): Promise<void>; stop(): Promise<void> }> {
  private users = 0;
  private starting?: Promise<void>;
  /** The logs of the runs using the source now: a warning reaches every one of them (a run that ended hears none). */
  private readonly logs = new Set<KubeLog>();
  private readonly fanout: KubeLog = {
    warn: (m) => { for (const l of this.logs) l.warn(m); },
    debug: (m) => { for (const l of this.logs) l.debug(m); },
  };
  constructor(readonly inner: T) {}
  async acquire(log: KubeLog): Promise<void> {
    this.users++;
    this.logs.add(log);
    this.starting ??= this.inner.start(this.fanout);
    await this.starting;
  }
  async release(log: KubeLog): Promise<boolean> {
    this.logs.delete(log);
    if (this.users === 0) return false;
    if (--this.users > 0) return false;
    await this.starting;
    this.starting = undefined;
    await this.inner.stop();
    return true;
  }
}

export class SharedPodSourceHandle implements PodSource {
  private readonly subs: (() => void)[] = [];
  private log?: KubeLog;
  constructor(private readonly rc: RefCounted<PodSource>, private readonly onLast: () => void) {}
  get node(): string { return this.rc.inner.node; }
  async start(log: KubeLog): Promise<void> { this.log = log; await this.rc.acquire(log); }
  byUid(uid: string): PodInfo | undefined { return this.rc.inner.byUid(uid); }
  byName(ns: string, name: string): PodInfo | undefined { return this.rc.inner.byName(ns, name); }
  list(): PodInfo[] { return this.rc.inner.list(); }
  onChange(cb: (p: PodInfo, c: PodChange) => void): () => void { const u = this.rc.inner.onChange(cb); this.subs.push(u); return u; }
  async stop(): Promise<void> {
    for (const u of this.subs.splice(0)) u();
    const log = this.log;
    if (!log) return;
    this.log = undefined;
    if (await this.rc.release(log)) this.onLast();
  }
}

export class SharedInventoryHandle implements KubeInventory {
  private readonly subs: (() => void)[] = [];
  private log?: KubeLog;
  constructor(private readonly rc: RefCounted<KubeInventory>, private readonly onLast: () => void) {}
  async start(log: KubeLog): Promise<void> { this.log = log; await this.rc.acquire(log); }
  podByIp(ip: string): PodInfo | undefined { return this.rc.inner.podByIp(ip); }
  podByName(ns: string, name: string): PodInfo | undefined { return this.rc.inner.podByName(ns, name); }
  serviceByIp(ip: string): ServiceInfo | undefined { return this.rc.inner.serviceByIp(ip); }
  onChange(cb: () => void): () => void { const u = this.rc.inner.onChange(cb); this.subs.push(u); return u; }
  async stop(): Promise<void> {
    for (const u of this.subs.splice(0)) u();
    const log = this.log;
    if (!log) return;
    this.log = undefined;
    if (await this.rc.release(log)) this.onLast();
  }
}

/** A factory of handles on one lazily made source; a new source is made after the last handle stopped. */
export function sharedPods(make: () => PodSource): () => PodSource {
  let rc: RefCounted<PodSource> | undefined;
  return () => {
    rc ??= new RefCounted(make());
    const mine = rc;
    return new SharedPodSourceHandle(mine, () => { if (rc === mine) rc = undefined; });
  };
}

export function sharedInventory(make: () => KubeInventory): () => KubeInventory {
  let rc: RefCounted<KubeInventory> | undefined;
  return () => {
    rc ??= new RefCounted(make());
    const mine = rc;
    return new SharedInventoryHandle(mine, () => { if (rc === mine) rc = undefined; });
  };
}
