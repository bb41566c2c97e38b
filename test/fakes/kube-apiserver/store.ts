// FAKE Kubernetes API server: the object store. One cluster-wide resourceVersion counter (as etcd's revision),
// a bounded history of changes that watches resume from, compaction (older resourceVersions answer 410 Gone),
// and garbage collection of dependents through ownerReferences (as the real garbage collector does).
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { KubeObject, Matcher } from './selectors.js';
import { type ResourceType, groupVersion, resourceKey } from './resources.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  rv: number;
  type: WatchEventType;
  resource: ResourceType;
  object: KubeObject;
  /** The object before a MODIFIED change (decides ADDED/DELETED for selector-filtered watches). */
  previous?: KubeObject;
}

export class StoreError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: object) { super(message); }
}

/** How many changes are kept for watches to resume from before they get 410 Gone (the real server keeps ~5 min). */
const DEFAULT_HISTORY = 10000;

function clone<T>(o: T): T { return structuredClone(o); }

export class ObjectStore extends EventEmitter {
  private objects = new Map<string, KubeObject>();
  private history: Change[] = [];
  private rv = 1000;
  /** Watches resuming from a resourceVersion below this get 410 Gone (changes after it were dropped). */
  private minResumable = 0;

  constructor(private readonly historySize = DEFAULT_HISTORY) { super(); this.setMaxListeners(0); }

  get resourceVersion(): number { return this.rv; }

  private key(t: ResourceType, ns: string, name: string): string {
    return `${resourceKey(t)}|${t.namespaced ? ns : ''}|${name}`;
  }

  get(t: ResourceType, ns: string, name: string): KubeObject | undefined {
    const o = this.objects.get(this.key(t, ns, name));
    return o ? clone(o) : undefined;
  }

  /** Objects of a resource (in a namespace when given), ordered by key as etcd lists them. */
  list(t: ResourceType, ns: string | undefined, match?: Matcher): KubeObject[] {
    const prefix = `${resourceKey(t)}|${t.namespaced && ns !== undefined ? `${ns}|` : ''}`;
    const out: KubeObject[] = [];
    for (const [k, o] of [...this.objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!k.startsWith(prefix)) continue;
      if (match && !match(o)) continue;
      out.push(clone(o));
    }
    return out;
  }

  private record(c: Omit<Change, 'rv'> & { rv: number }): void {
    this.history.push(c);
    if (this.history.length > this.historySize) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.minResumable = Math.max(this.minResumable, dropped[dropped.length - 1]!.rv);
    }
    this.emit('change', c);
  }

  /** Changes after `rv` (exclusive); throws 410 Gone when they are no longer kept. */
  since(rv: number): Change[] {
    if (rv < this.minResumable) {
      throw new StoreError(410, 'Expired', `too old resource version: ${rv} (${this.minResumable})`);
    }
    return this.history.filter((c) => c.rv > rv);
  }

  /** Forget history so every watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.rv++;
    this.history = [];
    this.minResumable = this.rv;
  }

  create(t: ResourceType, obj: KubeObject, opts: { requireNamespace?: boolean } = {}): KubeObject {
    const o = clone(obj);
    o.apiVersion = groupVersion(t);
    o.kind = t.kind;
    o.metadata ??= {};
    const m = o.metadata;
    if (!m.name && m.generateName) m.name = `${m.generateName}${randomUUID().slice(0, 5)}`;
    if (!m.name) throw new StoreError(422, 'Invalid', `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
    if (t.namespaced) {
      m.namespace ||= 'default';
      if (opts.requireNamespace && !this.objects.has(`namespaces||${m.namespace}`)) {
        throw new StoreError(404, 'NotFound', `namespaces "${m.namespace}" not found`, { name: m.namespace, kind: 'namespaces' });
      }
    } else {
      delete m.namespace;
    }
    const k = this.key(t, m.namespace ?? '', m.name);
    if (this.objects.has(k)) {
      throw new StoreError(409, 'AlreadyExists', `${t.name}${t.group ? `.${t.group}` : ''} "${m.name}" already exists`, { name: m.name, group: t.group, kind: t.name });
    }
    m.uid ||= randomUUID();
    m.creationTimestamp ||= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    m.generation ??= 1;
    if (t.kind === 'Namespace') {
      o.spec ??= { finalizers: ['kubernetes'] };
      o.status ??= { phase: 'Active' };
    }
    m.resourceVersion = String(++this.rv);
    this.objects.set(k, o);
    this.record({ rv: this.rv, type: 'ADDED', resource: t, object: clone(o) });
    return clone(o);
  }

  /** Replace an object; a stale metadata.resourceVersion is a 409 Conflict as on the real server. */
  update(t: ResourceType, obj: KubeObject): KubeObject {
    const m = obj.metadata;
    const k = this.key(t, m.namespace ?? '', m.name ?? '');
    const cur = this.objects.get(k);
    if (!cur) throw notFound(t, m.name ?? '');
    if (m.resourceVersion && m.resourceVersion !== cur.metadata.resourceVersion) {
      throw new StoreError(409, 'Conflict', `Operation cannot be fulfilled on ${t.name}${t.group ? `.${t.group}` : ''} "${m.name}": the object has been modified; please apply your changes to the latest version and try again`, { name: m.name, group: t.group, kind: t.name });
    }
    const o = clone(obj);
    o.apiVersion = groupVersion(t);
    o.kind = t.kind;
    // Identity fields stay the server's.
    o.metadata.uid = cur.metadata.uid;
    o.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    if (t.namespaced) o.metadata.namespace = cur.metadata.namespace;
    if (JSON.stringify(o.spec ?? null) !== JSON.stringify(cur.spec ?? null)) o.metadata.generation = (cur.metadata.generation ?? 1) + 1;
    else o.metadata.generation = cur.metadata.generation;
    o.metadata.resourceVersion = String(++this.rv);
    this.objects.set(k, o);
    this.record({ rv: this.rv, type: 'MODIFIED', resource: t, object: clone(o), previous: clone(cur) });
    return clone(o);
  }

  /** Delete an object and (as the garbage collector) every object that names it as owner. */
  delete(t: ResourceType, ns: string, name: string, resolveType: (o: KubeObject) => ResourceType | undefined): KubeObject {
    const k = this.key(t, ns, name);
    const cur = this.objects.get(k);
    if (!cur) throw notFound(t, name);
    this.objects.delete(k);
    const gone = clone(cur);
    gone.metadata.resourceVersion = String(++this.rv);
    this.record({ rv: this.rv, type: 'DELETED', resource: t, object: clone(gone) });
    const uid = cur.metadata.uid;
    // Dependents: through ownerReferences, and everything in a deleted namespace.
    for (const [dk, o] of [...this.objects.entries()]) {
      const owned = o.metadata.ownerReferences?.some((r) => r.uid === uid);
      const inNs = t.kind === 'Namespace' && dk.split('|')[1] === name;
      if (!owned && !inNs) continue;
      const dt = resolveType(o);
      if (dt && this.objects.has(dk)) this.delete(dt, o.metadata.namespace ?? '', o.metadata.name ?? '', resolveType);
    }
    return gone;
  }
}

export function notFound(t: ResourceType, name: string): StoreError {
  return new StoreError(404, 'NotFound', `${t.name}${t.group ? `.${t.group}` : ''} "${name}" not found`, { name, group: t.group, kind: t.name });
}
