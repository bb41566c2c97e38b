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

/** A run's handle on a shared source: it starts and stops its share, and its listeners go when it stops. */
abstract class SharedHandle<T extends { start(log: KubeLog): Promise<void>; stop(): Promise<void> }> {
  private readonly subs: (() => void)[] = [];
  private log?: KubeLog;
  constructor(protected readonly rc: RefCounted<T>, private readonly onLast: () => void) {}
  async start(log: KubeLog): Promise<void> { this.log = log; await this.rc.acquire(log); }
  /** A listener's unsubscribe, kept to be called at stop. */
  protected keep(unsubscribe: () => void): () => void { this.subs.push(unsubscribe); return unsubscribe; }
  async stop(): Promise<void> {
    for (const u of this.subs.splice(0)) u();
    const log = this.log;
    if (!log) return;
    this.log = undefined;
    if (await this.rc.release(log)) this.onLast();
  }
}

export class SharedPodSourceHandle extends SharedHandle<PodSource> implements PodSource {
  get node(): string { return this.rc.inner.node; }
  byUid(uid: string): PodInfo | undefined { return this.rc.inner.byUid(uid); }
  byName(ns: string, name: string): PodInfo | undefined { return this.rc.inner.byName(ns, name); }
  list(): PodInfo[] { return this.rc.inner.list(); }
  onChange(cb: (p: PodInfo, c: PodChange) => void): () => void { return this.keep(this.rc.inner.onChange(cb)); }
}

export class SharedInventoryHandle extends SharedHandle<KubeInventory> implements KubeInventory {
  podByIp(ip: string): PodInfo | undefined { return this.rc.inner.podByIp(ip); }
  podByName(ns: string, name: string): PodInfo | undefined { return this.rc.inner.podByName(ns, name); }
  serviceByIp(ip: string): ServiceInfo | undefined { return this.rc.inner.serviceByIp(ip); }
  onChange(cb: () => void): () => void { return this.keep(this.rc.inner.onChange(cb)); }
}

/** A factory of handles on one lazily made source; a new source is made after the last handle stopped. */
function shared<T extends { start(log: KubeLog): Promise<void>; stop(): Promise<void> }, H>(
  make: () => T, handle: new (rc: RefCounted<T>, onLast: () => void) => H,
): () => H {
  let rc: RefCounted<T> | undefined;
  return () => {
    rc ??= new RefCounted(make());
    const mine = rc;
    return new handle(mine, () => { if (rc === mine) rc = undefined; });
  };
}

export function sharedPods(make: () => PodSource): () => PodSource {
  return shared(make, SharedPodSourceHandle);
}

export function sharedInventory(make: () => KubeInventory): () => KubeInventory {
  return shared(make, SharedInventoryHandle);
}
