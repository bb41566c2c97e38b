// What Kubernetes-aware operators need from the cluster, as interfaces: src/kube implements them with the
// Kubernetes client and the runtime hands them to the operators (operators never import src/kube).

/** A pod as the operators use it (from the API server's Pod object). */
export interface PodInfo {
  uid: string;
  namespace: string;
  name: string;
  nodeName: string;
  labels: Record<string, string>;
  hostNetwork: boolean;
  podIP: string;
  podIPs: string[];
  hostIP: string;
  /** Container id (without the `containerd://` prefix) → container name, from the pod's container statuses. */
  containerIds: Map<string, string>;
  /** The top controller (ReplicaSet → Deployment, Job → CronJob, ...); empty strings when none or unknown. */
  ownerKind: string;
  ownerName: string;
}

export type PodChange = 'add' | 'update' | 'delete';

/** Pods of one node, followed from the API server (list + watch on spec.nodeName). */
export interface PodSource {
  /** The node this source follows (NODE_NAME). */
  readonly node: string;
  /** Start following; resolves after the first list (or its failure, which is logged and retried, never thrown). */
  start(log: KubeLog): Promise<void>;
  byUid(uid: string): PodInfo | undefined;
  byName(namespace: string, name: string): PodInfo | undefined;
  list(): PodInfo[];
  /** Called after a pod is added, changed (labels, containers, owner) or deleted; returns the unsubscribe function. */
  onChange(cb: (pod: PodInfo, change: PodChange) => void): () => void;
  stop(): Promise<void>;
}

/** A Service as the IP resolver uses it. */
export interface ServiceInfo { namespace: string; name: string; labels: Record<string, string>; selector: Record<string, string>; clusterIPs: string[] }

/** Cluster-wide pods and services by IP and by name (KubeIPResolver, KubeNameResolver). */
export interface KubeInventory {
  start(log: KubeLog): Promise<void>;
  podByIp(ip: string): PodInfo | undefined;
  podByName(namespace: string, name: string): PodInfo | undefined;
  serviceByIp(ip: string): ServiceInfo | undefined;
  /** Called whenever a pod or service changes (answers derived from them must be recomputed). */
  onChange(cb: () => void): () => void;
  stop(): Promise<void>;
}

/** Where Kubernetes sources write their one-line warnings (the run's logger). */
export interface KubeLog {
  warn(msg: string): void;
  debug(msg: string): void;
}

/** Kubernetes sources for one run; each call makes a fresh source the run owns (and stops). */
export interface KubeSources {
  node: string;
  pods(): PodSource;
  inventory(): KubeInventory;
}
