// List, then watch from the list's resourceVersion, as client-go's reflector does: bookmarks move the
// resourceVersion on, a watch that ends is resumed from where it was, a 410 Gone (expired resourceVersion) means
// list again, and the difference between the old and the new list is reported as adds, updates and deletes.
// Errors never escape: each kind is one warning (repeated only after things worked again) and a retry with
// back-off, so a run keeps going with what it knows (or nothing) while the API server is away or forbids.
import type { KubeConfig, KubernetesObject, Watch } from '@kubernetes/client-node';
import { describeKubeError } from './config.js';
import type { KubeLog } from '../operators/common/pod-source.js';

export interface ListResult<T> { items: T[]; metadata?: { resourceVersion?: string } }

export interface ListWatchOptions<T> {
  kc: KubeConfig;
  server: string;
  /** Collection path (`/api/v1/pods`). */
  path: string;
  /** One list call with the same selector as the watch. */
  list: () => Promise<ListResult<T>>;
  fieldSelector?: string;
  /** For messages: "pods on node n1". */
  what: string;
  log: KubeLog;
  /** Called for every change, in order; awaited (a handler may look things up before the next change). */
  handle: (type: 'add' | 'update' | 'delete', obj: T) => Promise<void> | void;
  /** Back-off bounds for retries (default 500 ms … 10 s). */
  minRetryMs?: number;
  maxRetryMs?: number;
}

const uidOf = (o: KubernetesObject) => o.metadata?.uid ?? `${o.metadata?.namespace}/${o.metadata?.name}`;

export class ListWatch<T extends KubernetesObject> {
  private readonly known = new Map<string, T>();
  private rv = '';
  private stopped = false;
  private req?: { abort(): void };
  private timer?: NodeJS.Timeout;
  private failing = '';
  private delay: number;
  private queue: Promise<void> = Promise.resolve();
  private watch?: Watch;

  constructor(private readonly o: ListWatchOptions<T>) { this.delay = o.minRetryMs ?? 500; }

  /** List once (awaited), then keep watching in the background. Never throws. */
  async start(): Promise<void> {
    const k8s = await import('@kubernetes/client-node');
    this.watch = new k8s.Watch(this.o.kc);
    await this.relist();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.req?.abort();
    await this.queue;
  }

  items(): T[] { return [...this.known.values()]; }

  private fail(e: unknown, doing: string): void {
    const line = `${doing} ${this.o.what}: ${describeKubeError(e, this.o.server)}`;
    if (line !== this.failing) this.o.log.warn(`${line} (retrying; Kubernetes enrichment stays empty meanwhile)`);
    this.failing = line;
  }

  private ok(): void {
    if (this.failing) this.o.log.warn(`Kubernetes API server at ${this.o.server} is answering again: following ${this.o.what}`);
    this.failing = '';
    this.delay = this.o.minRetryMs ?? 500;
  }

  private retry(fn: () => void): void {
    if (this.stopped) return;
    this.timer = setTimeout(fn, this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, this.o.maxRetryMs ?? 10_000);
  }

  private enqueue(type: 'add' | 'update' | 'delete', obj: T): void {
    this.queue = this.queue.then(() => this.o.handle(type, obj)).catch((e: unknown) => this.o.log.debug(`${this.o.what}: handler: ${(e as Error).message}`));
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    let list: ListResult<T>;
    try {
      list = await this.o.list();
    } catch (e) {
      this.fail(e, 'cannot list');
      this.retry(() => void this.relist());
      return;
    }
    if (this.stopped) return;
    this.ok();
    const fresh = new Map(list.items.map((i) => [uidOf(i), i]));
    for (const [uid, old] of this.known) if (!fresh.has(uid)) { this.known.delete(uid); this.enqueue('delete', old); }
    for (const [uid, obj] of fresh) {
      const old = this.known.get(uid);
      this.known.set(uid, obj);
      if (!old) this.enqueue('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.enqueue('update', obj);
    }
    this.rv = list.metadata?.resourceVersion ?? '';
    await this.queue;
    this.startWatch();
  }

  private startWatch(): void {
    if (this.stopped) return;
    let expired = false;
    let sawEvent = false;
    const params: Record<string, string | boolean> = { resourceVersion: this.rv, allowWatchBookmarks: true };
    if (this.o.fieldSelector) params['fieldSelector'] = this.o.fieldSelector;
    const onEvent = (type: string, obj: T & { code?: number }) => {
      if (!sawEvent && this.failing) this.ok();
      sawEvent = true;
      if (type === 'ERROR') {
        if (obj.code === 410) expired = true;
        else this.o.log.debug(`watch ${this.o.what}: ${JSON.stringify(obj)}`);
        return;
      }
      const rv = obj.metadata?.resourceVersion;
      if (rv) this.rv = rv;
      if (type === 'BOOKMARK') return;
      const uid = uidOf(obj);
      if (type === 'DELETED') { this.known.delete(uid); this.enqueue('delete', obj); return; }
      const had = this.known.has(uid);
      this.known.set(uid, obj);
      this.enqueue(had ? 'update' : 'add', obj);
    };
    const onDone = (err: unknown) => {
      this.req = undefined;
      if (this.stopped) return;
      const code = (err as { statusCode?: number } | null)?.statusCode;
      if (expired || code === 410) { this.o.log.debug(`watch ${this.o.what}: resourceVersion ${this.rv} expired (410 Gone); listing again`); void this.relist(); return; }
      if (err && !(err as { name?: string }).name?.includes('Abort')) {
        this.fail(err, 'lost the watch of');
        this.retry(() => this.startWatch());
        return;
      }
      // A watch the server ended normally (timeout, restart): resume at once, or after a pause if it ended empty.
      if (sawEvent) { this.delay = this.o.minRetryMs ?? 500; this.startWatch(); } else this.retry(() => this.startWatch());
    };
    this.watch!.watch(this.o.path, params, onEvent as (t: string, o: unknown) => void, onDone)
      .then((req) => { if (this.stopped) req.abort(); else this.req = req; })
      .catch((e: unknown) => onDone(e));
  }
}
