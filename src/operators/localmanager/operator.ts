// LocalManager (priority -1): follows the host's container runtimes, enriches events with container fields,
// and—unless --host—hands the eBPF program a mount-namespace filter map so other events die in the kernel.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { parseBool, type ParamDesc } from '../../gadget/params.js';
import { ContainerCollection, hostMntns, RUNTIME_NAMES, type Container } from '../../containers/index.js';
import { BpfMap } from '../../bpf/map.js';
import { MapType } from '../../bpf/constants.js';
import { addContainerFields, enrichmentKey } from './enrich.js';
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { matches, parseList, type ContainerSelector } from './selector.js';

function hostNetns(): number {
  return Number(statSync('/proc/self/ns/net').ino);
}

const PREFIX = 'operator.LocalManager.';
const MAX_CONTAINERS = 1024;
/** Offered names (include/gadget/mntns_filter.h): the filter map and the switch that turns it on. */
const MNTNS_FILTER_MAP = 'gadget_mntns_filter_map';
const FILTER_BY_MNTNS = 'gadget_filter_by_mntns';

export function localManagerParams(): ParamDesc[] {
  return [
    { key: 'containername', alias: 'c', alternativeKey: 'runtime-containername', prefix: PREFIX, defaultValue: '', description: 'Show only data from containers with these names (comma list, ! to exclude)' },
    { key: 'host', prefix: PREFIX, typeHint: 'bool', defaultValue: 'false', description: 'Show data from both the host and containers' },
    { key: 'k8s-namespace', prefix: PREFIX, defaultValue: '', description: 'Show only data from pods in these Kubernetes namespaces' },
    { key: 'k8s-podname', prefix: PREFIX, defaultValue: '', description: 'Show only data from these Kubernetes pods' },
    { key: 'k8s-containername', prefix: PREFIX, defaultValue: '', description: 'Show only data from these Kubernetes containers' },
    { key: 'runtime-containerimage-digest', prefix: PREFIX, defaultValue: '', description: 'Show only data from containers with these image digests' },
    { key: 'runtime-containerimage-name', prefix: PREFIX, defaultValue: '', description: 'Show only data from containers with these image names' },
    { key: 'runtimes', alias: 'r', prefix: PREFIX, defaultValue: RUNTIME_NAMES.join(','), description: 'Container runtimes to follow',
      validate: (v) => v.split(',').every((r) => (RUNTIME_NAMES as readonly string[]).includes(r.trim())) ? undefined : `supported runtimes: ${RUNTIME_NAMES.join(', ')}` },
    { key: 'docker-socketpath', prefix: PREFIX, defaultValue: '', description: 'Docker Engine API unix socket (default /run/docker.sock)' },
    { key: 'containerd-socketpath', prefix: PREFIX, defaultValue: '', description: 'containerd CRI unix socket (default /run/containerd/containerd.sock)' },
    { key: 'crio-socketpath', prefix: PREFIX, defaultValue: '', description: 'CRI-O CRI unix socket (default /run/crio/crio.sock)' },
    { key: 'podman-socketpath', prefix: PREFIX, defaultValue: '', description: 'Podman API unix socket (default /run/podman/podman.sock)' },
    { key: 'containerd-namespace', prefix: PREFIX, defaultValue: 'k8s.io', description: 'containerd namespace to follow' },
  ];
}

class LocalManagerInstance implements OperatorInstance {
  readonly name = 'LocalManager';
  private col?: ContainerCollection;
  private filterMap?: BpfMap;
  private readonly byMntnsCache = new Map<number, Container | null>();
  private readonly changes = new EventEmitter();

  constructor(private readonly ctx: GadgetContext) {
    for (const ds of ctx.dataSources.values()) {
      addContainerFields(ds, {
        byMntns: (m) => this.lookupMntns(m),
        byNetns: (n) => this.lookupNetns(n),
        onChange: (cb) => { this.changes.on('change', cb); return () => this.changes.off('change', cb); },
      });
    }
  }

  private lookupMntns(m: number | bigint): Container | undefined {
    const k = Number(m);
    const cached = this.byMntnsCache.get(k);
    if (cached !== undefined) return cached ?? undefined;
    const c = this.col?.byMntns(BigInt(m));
    // Cache only answers that an add/remove event invalidates: a miss, or a live container. A container
    // answered from the collection's 2 s removed cache must not outlive that cache here (its mntns inode
    // may then be reused by a process that is no container at all).
    if (!c) this.byMntnsCache.set(k, null);
    else if (this.col?.byId(c.runtime, c.id) === c) this.byMntnsCache.set(k, c);
    return c;
  }

  /**
   * Upstream's netns rule: exactly one container in the namespace gives its full metadata; several
   * containers of one pod give the pod-level (k8s namespace, pod, labels) fields only; otherwise nothing.
   */
  private lookupNetns(n: number): Container | undefined {
    const cs = this.col?.byNetns(n) ?? [];
    if (cs.length === 1) return cs[0];
    const first = cs[0];
    if (!first || !first.k8s.podName) return undefined;
    if (!cs.every((c) => c.k8s.podName === first.k8s.podName && c.k8s.namespace === first.k8s.namespace)) return undefined;
    return {
      ...first, runtime: '' as unknown as Container['runtime'], id: '', name: '', imageName: '', imageDigest: '',
      pid: 0, startedAt: 0, labels: {}, k8s: { ...first.k8s, containerName: '' },
    };
  }

  params(): ParamDesc[] { return localManagerParams(); }

  private selector(): ContainerSelector {
    const p = (k: string) => parseList(this.ctx.params.get(PREFIX + k));
    return {
      names: p('containername'), k8sNamespaces: p('k8s-namespace'), k8sPods: p('k8s-podname'), k8sContainers: p('k8s-containername'),
      imageDigests: p('runtime-containerimage-digest'), imageNames: p('runtime-containerimage-name'),
    };
  }

  async preStart(ctx: GadgetContext): Promise<void> {
    const g = (k: string) => ctx.params.get(PREFIX + k) || undefined;
    const runtimesSet = ctx.params.isSet(PREFIX + 'runtimes');
    this.col = await ContainerCollection.start({
      runtimes: parseList(g('runtimes')),
      explicitRuntimes: runtimesSet,
      dockerSocket: g('docker-socketpath'), containerdSocket: g('containerd-socketpath'),
      crioSocket: g('crio-socketpath'), podmanSocket: g('podman-socketpath'),
      containerdNamespace: g('containerd-namespace'),
      warn: (m) => ctx.log.warn(m),
    });
    // A container that comes or goes changes what a mntns id means: forget cached answers.
    this.col.on('add', () => { this.byMntnsCache.clear(); this.changes.emit('change'); });
    this.col.on('remove', () => { this.byMntnsCache.clear(); this.changes.emit('change'); });
    const host = parseBool(ctx.params.get(PREFIX + 'host'));
    const sel = this.selector();
    const matching = () => this.col!.list().filter((c) => matches(sel, c));
    const netns = (cs: Container[]) => [...new Map(cs.map((c) => [c.netns, `/proc/${c.pid}/ns/net`])).values()];
    // Network gadgets attach per network namespace: tell them about matching containers as they come and go.
    this.col.on('add', (c: Container) => { if (matches(sel, c)) ctx.netns.add(`/proc/${c.pid}/ns/net`); });
    this.col.on('remove', (c: Container) => {
      if (!matches(sel, c) || this.col!.list().some((o) => o.netns === c.netns && o.id !== c.id && matches(sel, o))) return;
      if (host && c.netns === hostNetns()) return;
      ctx.netns.remove(c.netns);
    });
    const initialMatch = matching();
    const connected = this.col.connectedRuntimes();
    const missed = parseList(g('runtimes')).filter((r) => !(connected as string[]).includes(r));
    ctx.log.debug(`container runtimes connected: ${connected.join(', ') || 'none'}${missed.length ? ` (not reached: ${missed.join(', ')})` : ''}; containers: ${this.col.list().length} known, ${initialMatch.length} matching${initialMatch.length ? ` (${initialMatch.slice(0, 10).map((c) => c.name).join(', ')}${initialMatch.length > 10 ? ', …' : ''})` : ''}`);
    ctx.watching = describeWatch(sel, host, initialMatch.length);
    if (hasSelector(sel) && initialMatch.length === 0 && this.col.connectedRuntimes().length > 0) await this.warnNoMatch(ctx, sel);
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
    const initial = matching();
    for (const c of initial) put(c);
    ctx.offers.offerMap(MNTNS_FILTER_MAP, map, this.name);
    ctx.offers.offerVariable(FILTER_BY_MNTNS, Buffer.from([1]), this.name);
    ctx.netns.paths = netns(initial);
    this.col.on('add', (c: Container) => { if (!map.closed && matches(sel, c)) put(c); });
    this.col.on('remove', (c: Container) => {
      if (map.closed || c.mntns === 0n) return;
      // Keep the key if another live container shares the namespace.
      if (this.col!.list().some((o) => o.mntns === c.mntns && o.id !== c.id)) return;
      try { map.delete(key(c)); } catch (e) { ctx.log.debug(`container filter: ${(e as Error).message}`); }
    });
    if (this.col.connectedRuntimes().length === 0) {
      ctx.log.warnOnce('no container runtime is reachable, so no container events can be shown; use --host to see events from the host');
    }
  }

  /** A selector that matches no known container: name the ones there are (and where containerd keeps others). */
  private async warnNoMatch(ctx: GadgetContext, sel: ContainerSelector): Promise<void> {
    const known = this.col!.list();
    const names = [...new Set(known.map((c) => c.name))].sort();
    let msg = `${selectorText(sel)} matches no running container (${names.length ? `known: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, and ${names.length - 10} more` : ''}` : 'none is running'}); containers that start later and match are traced`;
    if (this.col!.connectedRuntimes().includes('containerd') && !known.some((c) => c.runtime === 'containerd')) {
      const others = (await this.col!.containerdNamespaces()).filter((n) => n.containers > 0 && n.namespace !== this.col!.containerdNamespace);
      if (others.length) msg += `; containerd namespace ${this.col!.containerdNamespace} has no containers, ${others.map((n) => `${n.namespace} has ${n.containers}`).join(', ')} (--containerd-namespace)`;
    }
    ctx.log.warnOnce(msg);
  }

  async postStop(): Promise<void> {
    await this.col?.stop();
    this.col = undefined;
    if (this.filterMap) {
      this.ctx.offers.withdrawMap(MNTNS_FILTER_MAP);
      this.filterMap.close();
      this.filterMap = undefined;
    }
  }
}

function hasSelector(sel: ContainerSelector): boolean {
  return Object.values(sel).some((l) => (l as string[]).length > 0);
}

function selectorText(sel: ContainerSelector): string {
  const parts: string[] = [];
  const add = (flag: string, l: string[]) => { if (l.length) parts.push(`${flag} ${l.join(',')}`); };
  add('-c', sel.names); add('--k8s-namespace', sel.k8sNamespaces); add('--k8s-podname', sel.k8sPods);
  add('--k8s-containername', sel.k8sContainers); add('--runtime-containerimage-digest', sel.imageDigests);
  add('--runtime-containerimage-name', sel.imageNames);
  return parts.join(' ');
}

/** What a run watches, in words (for the note after a silent start on a terminal). */
function describeWatch(sel: ContainerSelector, host: boolean, matching: number): string {
  const what = hasSelector(sel) ? `containers selected by ${selectorText(sel)} (${matching} running now)` : `all containers (${matching} running now)`;
  return host ? `the host and ${what}` : what;
}

export const localManagerOperator: DataOperator = {
  name: 'LocalManager',
  priority: -1,
  instantiate(ctx) {
    const needed = ctx.offers.declaredMap(MNTNS_FILTER_MAP) !== undefined || [...ctx.dataSources.values()].some((ds) => enrichmentKey(ds));
    return needed ? new LocalManagerInstance(ctx) : null;
  },
};
