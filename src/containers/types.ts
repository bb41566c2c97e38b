/**
 * Types shared by the container collection and its runtime clients.
 */

export type RuntimeName = 'containerd' | 'podman' | 'docker' | 'cri-o';

export const RUNTIME_NAMES: readonly RuntimeName[] = ['containerd', 'docker', 'cri-o', 'podman'];

export interface K8sMetadata {
  namespace: string;
  podName: string;
  containerName: string;
  podUid: string;
  podLabels: Record<string, string>;
  /** From the Kubernetes API (Kube Manager): the node, host network, and the top owner (Deployment, CronJob, ...). */
  node?: string;
  hostNetwork?: boolean;
  ownerKind?: string;
  ownerName?: string;
}

export interface Container {
  runtime: RuntimeName;
  /** full container id as the runtime knows it */
  id: string;
  /** runtime-assigned container name */
  name: string;
  imageName: string;
  imageDigest: string;
  /** host PID of the container's init process */
  pid: number;
  /** mount namespace inode */
  mntns: bigint;
  /** network namespace inode */
  netns: number;
  /** cgroup v2 path relative to the v2 hierarchy root (the `0::` line of /proc/<pid>/cgroup), e.g. `/igtest/hn` */
  cgroupPath: string;
  /** cgroup v2 id = inode of the unified cgroup dir (0n when there is no cgroup v2 hierarchy) */
  cgroupId: bigint;
  /** unix ns */
  startedAt: number;
  labels: Record<string, string>;
  /** from io.kubernetes.* labels/annotations when present, else empty strings */
  k8s: K8sMetadata;
  /** /proc/<pid>/stat field 22: part of the identity, because namespace inodes are reused */
  pidStartTime: bigint;
}

/** What a runtime client knows about a running container (the collection adds the /proc facts). */
export interface RuntimeContainer {
  runtime: RuntimeName;
  id: string;
  name: string;
  imageName: string;
  imageDigest: string;
  pid: number;
  /** unix ns; 0 = unknown (the collection then uses the process start time) */
  startedAt: number;
  labels: Record<string, string>;
  k8s: K8sMetadata;
}

export interface RuntimeWatchHandlers {
  /** a container started (or was found running) */
  add(c: RuntimeContainer): void;
  /** a container's init process exited or the container was deleted */
  remove(id: string): void;
  /** the connection to the runtime was lost (the client stops itself) */
  lost(err: Error): void;
}

export interface RuntimeClient {
  readonly runtime: RuntimeName;
  readonly socket: string;
  /** Start following the runtime's events. Resolves once the subscription is in place. */
  watch(h: RuntimeWatchHandlers): Promise<void>;
  /** Running containers (with pid). */
  list(): Promise<RuntimeContainer[]>;
  close(): void;
}

export function emptyK8s(): K8sMetadata {
  return { namespace: '', podName: '', containerName: '', podUid: '', podLabels: {} };
}

/**
 * Kubernetes metadata from the labels/annotations container runtimes attach (CRI plugin of containerd,
 * CRI-O, dockershim/cri-dockerd): `io.kubernetes.pod.namespace`, `io.kubernetes.pod.name`,
 * `io.kubernetes.container.name`, `io.kubernetes.pod.uid`, and the `io.kubernetes.cri.*` OCI annotations.
 */
export function k8sFromLabels(...sources: Array<Record<string, string> | undefined>): K8sMetadata {
  const get = (...keys: string[]): string => {
    for (const src of sources) {
      if (!src) continue;
      for (const k of keys) {
        const v = src[k];
        if (v) return v;
      }
    }
    return '';
  };
  return {
    namespace: get('io.kubernetes.pod.namespace', 'io.kubernetes.cri.sandbox-namespace'),
    podName: get('io.kubernetes.pod.name', 'io.kubernetes.cri.sandbox-name'),
    containerName: get('io.kubernetes.container.name', 'io.kubernetes.cri.container-name'),
    podUid: get('io.kubernetes.pod.uid', 'io.kubernetes.cri.sandbox-uid'),
    podLabels: {},
  };
}

/** Pod labels are the sandbox's labels minus the runtime's own bookkeeping keys. */
export function podLabelsFrom(sandboxLabels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sandboxLabels ?? {})) {
    if (k.startsWith('io.kubernetes.') || k.startsWith('io.cri-containerd.') || k.startsWith('io.containerd.')
      || k === 'annotation.io.kubernetes.container.hash') continue;
    out[k] = v;
  }
  return out;
}

/** Parse an RFC 3339 timestamp with up to nanosecond precision into unix ns (0 when unparsable or zero). */
export function rfc3339ToUnixNs(s: string | undefined): number {
  if (!s || s.startsWith('0001-01-01')) return 0;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) {
    const ms = Date.parse(s);
    return Number.isNaN(ms) ? 0 : ms * 1e6;
  }
  const ms = Date.parse(m[1]! + m[3]!);
  if (Number.isNaN(ms)) return 0;
  const frac = (m[2] ?? '').padEnd(9, '0');
  return ms * 1e6 + Number(frac);
}
