// The pods of this node from the API server (list + watch with fieldSelector spec.nodeName=<node>), each with
// its top owner resolved as upstream does (the controller reference of an expected kind, followed upwards:
// ReplicaSet → Deployment, Job → CronJob), so KubeManager can enrich and select containers by pod.
import type { KubeConfig, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { KubeLog, PodChange, PodInfo, PodSource, ServiceInfo } from '../operators/common/pod-source.js';
import { describeKubeError } from './config.js';
import { ListWatch } from './list-watch.js';

/** Owner kinds upstream follows (the gadget ClusterRole grants get on these). */
const OWNER_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']);
/** How long one owner lookup may take before the pod is reported without an owner. */
const OWNER_TIMEOUT_MS = 5000;

interface OwnerRef { apiVersion: string; kind: string; name: string; uid?: string; controller?: boolean }

/** The controller reference if it has an expected kind, else the first reference of an expected kind. */
export function expectedOwner(refs: OwnerRef[] | undefined): OwnerRef | undefined {
  let first: OwnerRef | undefined;
  for (const r of refs ?? []) {
    if (!OWNER_KINDS.has(r.kind)) continue;
    if (r.controller) return r;
    first ??= r;
  }
  return first;
}

export function podInfo(p: V1Pod, owner: { kind: string; name: string } = { kind: '', name: '' }): PodInfo {
  const ids = new Map<string, string>();
  const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? []), ...(p.status?.ephemeralContainerStatuses ?? [])];
  for (const s of statuses) {
    const id = s.containerID?.split('://')[1];
    if (id) ids.set(id, s.name);
  }
  return {
    uid: p.metadata?.uid ?? '', namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '',
    nodeName: p.spec?.nodeName ?? '', labels: { ...(p.metadata?.labels ?? {}) }, hostNetwork: p.spec?.hostNetwork === true,
    podIP: p.status?.podIP ?? '', podIPs: (p.status?.podIPs ?? []).map((x) => x.ip).filter(Boolean) as string[], hostIP: p.status?.hostIP ?? '',
    containerIds: ids, ownerKind: owner.kind, ownerName: owner.name,
  };
}

export function serviceInfo(s: { metadata?: { namespace?: string; name?: string; labels?: Record<string, string> }; spec?: { selector?: Record<string, string>; clusterIP?: string; clusterIPs?: string[] } }): ServiceInfo {
  const ips = new Set([...(s.spec?.clusterIPs ?? []), ...(s.spec?.clusterIP ? [s.spec.clusterIP] : [])].filter((ip) => ip && ip !== 'None'));
  return { namespace: s.metadata?.namespace ?? '', name: s.metadata?.name ?? '', labels: { ...(s.metadata?.labels ?? {}) }, selector: { ...(s.spec?.selector ?? {}) }, clusterIPs: [...ips] };
}

/** Resolves and caches the top owner of pods (one GET per owner object, shared by its pods). */
export class OwnerResolver {
  private readonly cache = new Map<string, Promise<OwnerRef[]>>();
  private readonly warned = new Set<string>();
  constructor(private readonly kc: KubeConfig, private readonly server: string, private readonly log: KubeLog) {}

  private async refsOf(namespace: string, ref: OwnerRef): Promise<OwnerRef[]> {
    const key = `${namespace}/${ref.apiVersion}/${ref.kind}/${ref.name}/${ref.uid ?? ''}`;
    let p = this.cache.get(key);
    if (!p) {
      p = (async () => {
        const k8s = await import('@kubernetes/client-node');
        const api = k8s.KubernetesObjectApi.makeApiClient(this.kc);
        const obj = await api.read({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace } }) as KubernetesObject;
        return (obj.metadata?.ownerReferences ?? []) as OwnerRef[];
      })();
      this.cache.set(key, p);
      // A failed lookup is not remembered: the next pod of that owner asks again.
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  /** The top owner, or empty strings when there is none or it cannot be looked up (one warning per cause). */
  async resolve(pod: V1Pod): Promise<{ kind: string; name: string }> {
    const ns = pod.metadata?.namespace ?? '';
    let ref = expectedOwner(pod.metadata?.ownerReferences as OwnerRef[] | undefined);
    let top: OwnerRef | undefined;
    try {
      while (ref) {
        top = ref;
        const timeout = new Promise<never>((_, reject) => { const t = setTimeout(() => reject(new Error(`no answer within ${OWNER_TIMEOUT_MS} ms`)), OWNER_TIMEOUT_MS); t.unref(); });
        ref = expectedOwner(await Promise.race([this.refsOf(ns, ref), timeout]));
      }
    } catch (e) {
      const line = `cannot resolve the owner of pod ${ns}/${pod.metadata?.name} (${top?.kind} ${top?.name}): ${describeKubeError(e, this.server)}; its k8s.owner stays empty`;
      const cause = line.replace(/pod \S+ \(.*?\)/, '');
      if (!this.warned.has(cause)) { this.warned.add(cause); this.log.warn(line); } else this.log.debug(line);
      return { kind: '', name: '' };
    }
    return top ? { kind: top.kind, name: top.name } : { kind: '', name: '' };
  }
}

export class NodePodSource implements PodSource {
  private readonly byUidMap = new Map<string, PodInfo>();
  private readonly byNameMap = new Map<string, PodInfo>();
  private readonly listeners = new Set<(p: PodInfo, c: PodChange) => void>();
  private lw?: ListWatch<V1Pod>;

  constructor(readonly node: string, private readonly kc: KubeConfig, private readonly server: string) {}

  async start(log: KubeLog): Promise<void> {
    const k8s = await import('@kubernetes/client-node');
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const fieldSelector = `spec.nodeName=${this.node}`;
    const owners = new OwnerResolver(this.kc, this.server, log);
    this.lw = new ListWatch<V1Pod>({
      kc: this.kc, server: this.server, path: '/api/v1/pods', fieldSelector, what: `pods on node ${this.node}`, log,
      list: () => core.listPodForAllNamespaces({ fieldSelector }),
      handle: async (type, pod) => {
        const uid = pod.metadata?.uid ?? '';
        const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
        if (type === 'delete') {
          const old = this.byUidMap.get(uid);
          this.byUidMap.delete(uid);
          if (this.byNameMap.get(key)?.uid === uid) this.byNameMap.delete(key);
          if (old) this.emit(old, 'delete');
          return;
        }
        const prev = this.byUidMap.get(uid);
        // Owner references do not change over a pod's life: resolve once.
        const owner = prev ? { kind: prev.ownerKind, name: prev.ownerName } : await owners.resolve(pod);
        const info = podInfo(pod, owner);
        this.byUidMap.set(uid, info);
        this.byNameMap.set(key, info);
        this.emit(info, prev ? 'update' : 'add');
      },
    });
    await this.lw.start();
  }

  private emit(p: PodInfo, c: PodChange): void {
    for (const l of this.listeners) {
      try { l(p, c); } catch { /* a listener's failure must not stop the others; listeners log their own */ }
    }
  }

  byUid(uid: string): PodInfo | undefined { return this.byUidMap.get(uid); }
  byName(namespace: string, name: string): PodInfo | undefined { return this.byNameMap.get(`${namespace}/${name}`); }
  list(): PodInfo[] { return [...this.byUidMap.values()]; }
  onChange(cb: (p: PodInfo, c: PodChange) => void): () => void { this.listeners.add(cb); return () => this.listeners.delete(cb); }
  async stop(): Promise<void> { await this.lw?.stop(); this.listeners.clear(); }
}
