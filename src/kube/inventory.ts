// Cluster-wide pods and services by IP and by name (upstream's K8sInventoryCache), for KubeIPResolver and
// KubeNameResolver. Pods without a resolved owner: the resolvers need names, labels and addresses only.
import type { KubeConfig, V1Pod, V1Service } from '@kubernetes/client-node';
import type { KubeInventory, KubeLog, PodInfo, ServiceInfo } from '../operators/common/pod-source.js';
import { ListWatch } from './list-watch.js';
import { podInfo, serviceInfo } from './pods.js';

export class ClusterInventory implements KubeInventory {
  private readonly pods = new Map<string, PodInfo>();
  private readonly services = new Map<string, ServiceInfo>();
  private podIps = new Map<string, PodInfo>();
  private svcIps = new Map<string, ServiceInfo>();
  private readonly listeners = new Set<() => void>();
  private lws: ListWatch<V1Pod | V1Service>[] = [];

  constructor(private readonly kc: KubeConfig, private readonly server: string) {}

  async start(log: KubeLog): Promise<void> {
    const k8s = await import('@kubernetes/client-node');
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const pods = new ListWatch<V1Pod>({
      kc: this.kc, server: this.server, path: '/api/v1/pods', what: 'pods of the cluster', log,
      list: () => core.listPodForAllNamespaces(),
      handle: (type, p) => {
        const key = p.metadata?.uid ?? '';
        if (type === 'delete') this.pods.delete(key); else this.pods.set(key, podInfo(p));
        this.reindex();
      },
    });
    const svcs = new ListWatch<V1Service>({
      kc: this.kc, server: this.server, path: '/api/v1/services', what: 'services of the cluster', log,
      list: () => core.listServiceForAllNamespaces(),
      handle: (type, s) => {
        const key = `${s.metadata?.namespace}/${s.metadata?.name}`;
        if (type === 'delete') this.services.delete(key); else this.services.set(key, serviceInfo(s));
        this.reindex();
      },
    });
    this.lws = [pods as ListWatch<V1Pod | V1Service>, svcs as ListWatch<V1Pod | V1Service>];
    await Promise.all(this.lws.map((l) => l.start()));
  }

  /** Rebuild the IP indexes; a running pod wins an address over finished ones that still name it. */
  private reindex(): void {
    const podIps = new Map<string, PodInfo>();
    for (const p of this.pods.values()) {
      for (const ip of new Set([p.podIP, ...p.podIPs].filter(Boolean))) {
        if (!podIps.has(ip) || (podIps.get(ip)!.hostNetwork && !p.hostNetwork)) podIps.set(ip, p);
      }
    }
    const svcIps = new Map<string, ServiceInfo>();
    for (const s of this.services.values()) for (const ip of s.clusterIPs) svcIps.set(ip, s);
    this.podIps = podIps;
    this.svcIps = svcIps;
    for (const l of this.listeners) {
      try { l(); } catch { /* a listener's failure must not stop the others */ }
    }
  }

  podByIp(ip: string): PodInfo | undefined { return this.podIps.get(ip); }
  podByName(namespace: string, name: string): PodInfo | undefined {
    for (const p of this.pods.values()) if (p.namespace === namespace && p.name === name) return p;
    return undefined;
  }
  serviceByIp(ip: string): ServiceInfo | undefined { return this.svcIps.get(ip); }
  onChange(cb: () => void): () => void { this.listeners.add(cb); return () => this.listeners.delete(cb); }
  async stop(): Promise<void> { await Promise.all(this.lws.map((l) => l.stop())); this.listeners.clear(); }
}
