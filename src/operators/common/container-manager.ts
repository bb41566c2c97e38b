// The work LocalManager and KubeManager share: follow the host's container runtimes, enrich events with
// container fields, and—unless --host—hand the eBPF program a mount-namespace filter map holding the selected
// containers, kept current as containers (and, with a pod source, their pods) come and go. With a PodSource
// (KubeManager) the k8s.* fields and the label selector come from the API server's pods, joined to runtime
// containers by pod uid (CRI label io.kubernetes.pod.uid) or namespace/name; without one, from runtime labels.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import type { GadgetContext } from '../../gadget/context.js';
import type { MountTarget } from '../../gadget/mounts.js';
import { ContainerCollection, hostMntns, type CollectionOptions, type Container } from '../../containers/index.js';
import { BpfMap } from '../../bpf/map.js';
import { MapType } from '../../bpf/constants.js';
import { addContainerFields } from './container-fields.js';
import { hasSelector, matches, selectorText, type ContainerSelector } from './container-selector.js';
import type { PodInfo, PodSource } from './pod-source.js';

const MAX_CONTAINERS = 1024;
/** Offered names (include/gadget/mntns_filter.h): the filter map and the switch that turns it on. */
export const MNTNS_FILTER_MAP = 'gadget_mntns_filter_map';
const FILTER_BY_MNTNS = 'gadget_filter_by_mntns';

function hostNetns(): number {
  return Number(statSync('/proc/self/ns/net').ino);
}

export interface ManagerStartOptions {
  collection: CollectionOptions;
  selector: ContainerSelector;
  /** Flag names for messages (KubeManager: -n/-p/-c/-l). */
  selectorFlags?: Parameters<typeof selectorText>[1];
  host: boolean;
}

export class ContainerManager {
  private col?: ContainerCollection;
  private filterMap?: BpfMap;
  private readonly byMntnsCache = new Map<number, Container | null>();
  /** Containers as enriched with their pod (KubeManager), by runtime/id; dropped when pods or containers change. */
  private readonly views = new Map<string, Container>();
  private readonly changes = new EventEmitter();
  private unsubscribePods?: () => void;

  constructor(private readonly ctx: GadgetContext, private readonly name: string, private readonly pods?: PodSource) {
    this.changes.setMaxListeners(0);
    // Recorded and replayed runs: the container a namespace belongs to is a host fact (ctx.facts), so a replay
    // shows the recorded run's containers without asking any runtime.
    const facts = ctx.facts;
    // A question the recorded run never asked (a field it did not show, e.g. recorded with -o none) is answered
    // from the recorded container table instead (recordedTable below).
    const table = facts.mode === 'replay' ? recordedTable(ctx, () => this.changes.emit('change')) : undefined;
    const byMntns = facts.mode === 'live' ? (m: number | bigint) => this.lookupMntns(m)
      : (m: number | bigint) => {
        const v = facts.ask<Container | null | undefined>('container-mntns', String(m), () => this.lookupMntns(m) ?? null, undefined);
        return v === undefined ? table?.byMntns(BigInt(m)) : v ?? undefined;
      };
    const byNetns = facts.mode === 'live' ? (n: number) => this.lookupNetns(n)
      : (n: number) => {
        const v = facts.ask<Container | null | undefined>('container-netns', String(n), () => this.lookupNetns(n) ?? null, undefined);
        return v === undefined ? table?.byNetns(n) : v ?? undefined;
      };
    for (const ds of ctx.dataSources.values()) {
      addContainerFields(ds, {
        byMntns,
        byNetns,
        onChange: (cb) => { this.changes.on('change', cb); return () => this.changes.off('change', cb); },
      }, pods !== undefined);
    }
  }

  private forget(): void {
    this.byMntnsCache.clear();
    this.views.clear();
    this.changes.emit('change');
  }

  /** The pod a runtime container belongs to, if the pod source knows it. */
  private podOf(c: Container): PodInfo | undefined {
    if (!this.pods) return undefined;
    return (c.k8s.podUid ? this.pods.byUid(c.k8s.podUid) : undefined)
      ?? (c.k8s.namespace && c.k8s.podName ? this.pods.byName(c.k8s.namespace, c.k8s.podName) : undefined);
  }

  /**
   * A container as the fields and selectors see it. With a pod source: the pod's labels, owner, host network
   * and node; a container whose pod is unknown (not listed yet, deleted, API server unreachable) keeps only what
   * its runtime labels say (namespace, pod and container names) and gets no labels or owner rather than stale ones.
   */
  private view(c: Container | undefined): Container | undefined {
    if (!c || !this.pods) return c;
    const key = `${c.runtime}/${c.id}`;
    const cached = this.views.get(key);
    if (cached && cached.pid === c.pid && cached.mntns === c.mntns) return cached;
    const pod = this.podOf(c);
    const k8s = pod
      ? {
        ...c.k8s, namespace: pod.namespace, podName: pod.name, podUid: pod.uid,
        containerName: pod.containerIds.get(c.id) ?? c.k8s.containerName,
        podLabels: pod.labels, node: this.pods.node, hostNetwork: pod.hostNetwork, ownerKind: pod.ownerKind, ownerName: pod.ownerName,
      }
      : { ...c.k8s, podLabels: {}, node: this.pods.node, hostNetwork: false, ownerKind: '', ownerName: '' };
    const v: Container = { ...c, k8s };
    this.views.set(key, v);
    return v;
  }

  private lookupMntns(m: number | bigint): Container | undefined {
    const k = Number(m);
    const cached = this.byMntnsCache.get(k);
    if (cached !== undefined) return cached ?? undefined;
    const c = this.col?.byMntns(BigInt(m));
    // Cache only answers that an add/remove event invalidates: a miss, or a live container. A container
    // answered from the collection's 2 s removed cache must not outlive that cache here (its mntns inode
    // may then be reused by a process that is no container at all).
    const v = this.view(c);
    if (!c) this.byMntnsCache.set(k, null);
    else if (this.col?.byId(c.runtime, c.id) === c) this.byMntnsCache.set(k, v ?? null);
    return v;
  }

  /**
   * Upstream's netns rule: exactly one container in the namespace gives its full metadata; several
   * containers of one pod give the pod-level (k8s namespace, pod, labels) fields only; otherwise nothing.
   */
  private lookupNetns(n: number): Container | undefined {
    const cs = (this.col?.byNetns(n) ?? []).map((c) => this.view(c)!);
    if (cs.length === 1) return cs[0];
    const first = cs[0];
    if (!first || !first.k8s.podName) return undefined;
    if (!cs.every((c) => c.k8s.podName === first.k8s.podName && c.k8s.namespace === first.k8s.namespace)) return undefined;
    return {
      ...first, runtime: '' as unknown as Container['runtime'], id: '', name: '', imageName: '', imageDigest: '',
      pid: 0, startedAt: 0, labels: {}, k8s: { ...first.k8s, containerName: '' },
    };
  }

  async start(ctx: GadgetContext, o: ManagerStartOptions): Promise<void> {
    // A replay reads containers from the recording; the kernel-side selection happened when it was recorded.
    if (ctx.facts.mode === 'replay') return;
    this.col = await ContainerCollection.start({ ...o.collection, warn: (m) => ctx.log.warn(m) });
    const col = this.col;
    if (ctx.facts.mode === 'record') {
      // The container table and its changes, for `ig replay --info` and whoever reads the recording later.
      const key = (c: Container) => `${c.runtime}/${c.id}`;
      // As the fields see them (with a pod source: joined to their pods), so that a replay can answer from the table.
      for (const c of col.list()) ctx.facts.note('container', key(c), this.view(c));
      col.on('add', (c: Container) => ctx.facts.note('container-add', key(c), this.view(c)));
      col.on('remove', (c: Container) => ctx.facts.note('container-remove', key(c), c));
    }
    // A container that comes or goes changes what a mntns id means: forget cached answers.
    col.on('add', () => this.forget());
    col.on('remove', () => this.forget());
    const host = o.host;
    const sel = o.selector;
    const selected = (c: Container) => matches(sel, this.view(c)!);
    const matching = () => col.list().filter(selected);
    const netns = (cs: Container[]) => [...new Map(cs.map((c) => [c.netns, `/proc/${c.pid}/ns/net`])).values()];
    // Network gadgets attach per network namespace: tell them about matching containers as they come and go.
    col.on('add', (c: Container) => { if (selected(c)) ctx.netns.add(`/proc/${c.pid}/ns/net`); });
    // Uprobes attach to the libraries each selected container sees: tell them about containers as they come and go.
    col.on('add', (c: Container) => { if (selected(c) && traced(c)) ctx.mounts.add(mountTarget(c)); });
    col.on('remove', (c: Container) => ctx.mounts.remove(mountKey(c)));
    col.on('remove', (c: Container) => {
      if (!selected(c) || col.list().some((x) => x.netns === c.netns && x.id !== c.id && selected(x))) return;
      if (host && c.netns === hostNetns()) return;
      ctx.netns.remove(c.netns);
    });
    const initialMatch = matching();
    ctx.mounts.select(host, initialMatch.filter(traced).map(mountTarget));
    const connected = col.connectedRuntimes();
    const missed = (o.collection.runtimes ?? []).filter((r) => !(connected as string[]).includes(r));
    ctx.log.debug(`${this.name}: container runtimes connected: ${connected.join(', ') || 'none'}${missed.length ? ` (not reached: ${missed.join(', ')})` : ''}; containers: ${col.list().length} known, ${initialMatch.length} matching${initialMatch.length ? ` (${initialMatch.slice(0, 10).map((c) => c.name).join(', ')}${initialMatch.length > 10 ? ', …' : ''})` : ''}`);
    ctx.watching = describeWatch(sel, host, initialMatch.length, o.selectorFlags);
    if (hasSelector(sel) && initialMatch.length === 0 && connected.length > 0) await this.warnNoMatch(ctx, sel, o.selectorFlags);
    if (host) {
      ctx.netns.paths = [null, ...netns(matching())];
      return;
    }
    if (!ctx.offers.declaredMap(MNTNS_FILTER_MAP)) return;
    const map = BpfMap.create({ type: MapType.Hash, keySize: 8, valueSize: 4, maxEntries: MAX_CONTAINERS, name: 'mntns_filter' });
    this.filterMap = map;
    const key = (c: Container) => { const k = Buffer.alloc(8); k.writeBigUInt64LE(c.mntns); return k; };
    const one = Buffer.from([1, 0, 0, 0]);
    const host0 = hostMntns();
    const put = (c: Container) => { if (c.mntns !== 0n && c.mntns !== host0 && (c.name || c.k8s.containerName)) map.update(key(c), one); };
    const drop = (c: Container) => {
      if (map.closed || c.mntns === 0n) return;
      // Keep the key if another live, selected container shares the namespace.
      if (col.list().some((x) => x.mntns === c.mntns && x.id !== c.id && selected(x))) return;
      try { map.delete(key(c)); } catch (e) { ctx.log.debug(`container filter: ${(e as Error).message}`); }
    };
    const initial = matching();
    for (const c of initial) put(c);
    ctx.offers.offerMap(MNTNS_FILTER_MAP, map, this.name);
    ctx.offers.offerVariable(FILTER_BY_MNTNS, Buffer.from([1]), this.name);
    ctx.netns.paths = netns(initial);
    col.on('add', (c: Container) => { if (!map.closed && selected(c)) put(c); });
    col.on('remove', (c: Container) => drop(c));
    // A pod that is listed, relabelled or deleted after its containers started changes whether they are selected
    // (a label selector cannot decide before the pod is known): re-decide for that pod's containers.
    if (this.pods) {
      this.unsubscribePods = this.pods.onChange((pod) => {
        this.forget();
        if (map.closed) return;
        for (const c of col.list()) {
          if (c.k8s.podUid !== pod.uid && !(c.k8s.namespace === pod.namespace && c.k8s.podName === pod.name)) continue;
          if (selected(c)) { put(c); ctx.netns.add(`/proc/${c.pid}/ns/net`); if (traced(c)) ctx.mounts.add(mountTarget(c)); } else { drop(c); ctx.mounts.remove(mountKey(c)); }
        }
      });
    }
    if (connected.length === 0) {
      ctx.log.warnOnce('no container runtime is reachable, so no container events can be shown; use --host to see events from the host');
    }
  }

  /** A selector that matches no known container: name the ones there are (and where containerd keeps others). */
  private async warnNoMatch(ctx: GadgetContext, sel: ContainerSelector, flags: ManagerStartOptions['selectorFlags']): Promise<void> {
    const col = this.col!;
    const known = col.list();
    const names = [...new Set(known.map((c) => c.name))].sort();
    let msg = `${selectorText(sel, flags)} matches no running container (${names.length ? `known: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, and ${names.length - 10} more` : ''}` : 'none is running'}); containers that start later and match are traced`;
    if (col.connectedRuntimes().includes('containerd') && !known.some((c) => c.runtime === 'containerd')) {
      const others = (await col.containerdNamespaces()).filter((n) => n.containers > 0 && n.namespace !== col.containerdNamespace);
      if (others.length) msg += `; containerd namespace ${col.containerdNamespace} has no containers, ${others.map((n) => `${n.namespace} has ${n.containers}`).join(', ')} (--containerd-namespace)`;
    }
    ctx.log.warnOnce(msg);
  }

  async stop(): Promise<void> {
    this.unsubscribePods?.();
    this.unsubscribePods = undefined;
    await this.col?.stop();
    this.col = undefined;
    if (this.filterMap) {
      this.ctx.offers.withdrawMap(MNTNS_FILTER_MAP);
      this.filterMap.close();
      this.filterMap = undefined;
    }
  }
}

const mountKey = (c: Container): string => `${c.runtime}/${c.id}`;
const mountTarget = (c: Container): MountTarget => ({ key: mountKey(c), name: c.name || c.k8s.containerName || c.id, pid: c.pid });
/** A container whose processes the run can see: it has a process (and so a root) and a mount namespace of its own. */
const traced = (c: Container): boolean => c.pid > 0 && c.mntns !== 0n;

/** What a run watches, in words (for the note after a silent start on a terminal). */
function describeWatch(sel: ContainerSelector, host: boolean, matching: number, flags: ManagerStartOptions['selectorFlags']): string {
  const what = hasSelector(sel) ? `containers selected by ${selectorText(sel, flags)} (${matching} running now)` : `all containers (${matching} running now)`;
  return host ? `the host and ${what}` : what;
}

/**
 * replay: the recorded container table (the `container` facts noted at start, then `container-add` as they come),
 * for questions the recorded run did not ask; `changed` runs when a container is added (answers cached from the
 * table, e.g. render-plan memos, are stale then). A removed container keeps answering, as the live collection
 * answers late events of a container that just went away.
 */
function recordedTable(ctx: GadgetContext, changed: () => void): { byMntns(m: bigint): Container | undefined; byNetns(n: number): Container | undefined } {
  const byM = new Map<string, Container>();
  const byN = new Map<number, Container[]>();
  const put = (v: unknown) => {
    if (!v || typeof v !== 'object') return;
    const c = v as Container;
    if (BigInt(c.mntns) !== 0n) byM.set(String(c.mntns), c);
    const same = (byN.get(c.netns) ?? []).filter((x) => x.runtime !== c.runtime || x.id !== c.id);
    byN.set(c.netns, [...same, c]);
  };
  for (const [, v] of ctx.facts.knownOf('container')) put(v);
  for (const [, v] of ctx.facts.knownOf('container-add')) put(v);
  ctx.facts.onSet((kind, key) => {
    if (kind !== 'container' && kind !== 'container-add') return;
    put(ctx.facts.ask<unknown>(kind, key, () => null, null));
    changed();
  });
  return {
    byMntns: (m) => byM.get(String(m)),
    // Only an unambiguous answer (one container in the namespace), as the live rule's first case.
    byNetns: (n) => { const cs = byN.get(n); return cs?.length === 1 ? cs[0] : undefined; },
  };
}
