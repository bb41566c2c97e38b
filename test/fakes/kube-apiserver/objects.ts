// FAKE Kubernetes API server: builders for objects in their real JSON shape (what a cluster's controllers would
// have written), so tests describe a cluster in a few lines. The server assigns uid/resourceVersion when missing;
// builders assign uids themselves so owner references can point at them before anything is stored.
import { randomUUID } from 'node:crypto';
import type { KubeObject, OwnerReference } from './selectors.js';

interface Meta { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string; owner?: KubeObject }

function meta(m: Meta, namespaced = true): KubeObject['metadata'] {
  return {
    name: m.name,
    ...(namespaced ? { namespace: m.namespace ?? 'default' } : {}),
    uid: m.uid ?? randomUUID(),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
    ...(m.owner ? { ownerReferences: [ownerRef(m.owner)] } : {}),
  };
}

/** The controller reference a controller writes on what it creates. */
export function ownerRef(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

export function namespace(name: string, labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: meta({ name, labels: { 'kubernetes.io/metadata.name': name, ...labels } }, false), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

export function node(name: string, opts: { internalIP?: string; labels?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: meta({ name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...opts.labels } }, false),
    spec: { podCIDR: '10.244.0.0/24' },
    status: {
      addresses: [{ type: 'InternalIP', address: opts.internalIP ?? '192.0.2.10' }, { type: 'Hostname', address: name }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      nodeInfo: { containerRuntimeVersion: 'containerd://1.6.20', kubeletVersion: 'v1.30.0', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
}

export interface PodContainer { name: string; image?: string; containerID?: string; ports?: { containerPort: number; protocol?: string; name?: string }[] }

export function pod(m: Meta & {
  nodeName: string;
  containers: PodContainer[];
  podIP?: string;
  hostIP?: string;
  hostNetwork?: boolean;
  phase?: string;
  serviceAccountName?: string;
}): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: meta(m),
    spec: {
      nodeName: m.nodeName,
      ...(m.hostNetwork ? { hostNetwork: true } : {}),
      serviceAccountName: m.serviceAccountName ?? 'default',
      restartPolicy: 'Always',
      containers: m.containers.map((c) => ({ name: c.name, image: c.image ?? 'docker.io/library/busybox:latest', ...(c.ports ? { ports: c.ports } : {}) })),
    },
    status: {
      phase: m.phase ?? 'Running',
      ...(m.hostIP ? { hostIP: m.hostIP } : {}),
      ...(m.podIP ? { podIP: m.podIP, podIPs: [{ ip: m.podIP }] } : {}),
      containerStatuses: m.containers.map((c) => ({
        name: c.name, image: c.image ?? 'docker.io/library/busybox:latest', ready: true, restartCount: 0, started: true,
        state: { running: { startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } },
        ...(c.containerID ? { containerID: `containerd://${c.containerID}` } : {}),
      })),
    },
  };
}

function podTemplate(labels: Record<string, string>, containers: PodContainer[] = [{ name: 'main' }]): object {
  return { metadata: { labels }, spec: { containers: containers.map((c) => ({ name: c.name, image: c.image ?? 'docker.io/library/busybox:latest' })) } };
}

export function deployment(m: Meta & { selector: Record<string, string>; replicas?: number }): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(m), spec: { replicas: m.replicas ?? 1, selector: { matchLabels: m.selector }, template: podTemplate(m.selector) }, status: { replicas: m.replicas ?? 1, readyReplicas: m.replicas ?? 1 } };
}

export function replicaSet(m: Meta & { selector: Record<string, string>; replicas?: number }): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta(m), spec: { replicas: m.replicas ?? 1, selector: { matchLabels: m.selector }, template: podTemplate(m.selector) }, status: { replicas: m.replicas ?? 1, readyReplicas: m.replicas ?? 1 } };
}

export function daemonSet(m: Meta & { selector: Record<string, string>; image?: string }): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta(m), spec: { selector: { matchLabels: m.selector }, template: podTemplate(m.selector, [{ name: 'main', image: m.image }]) }, status: { desiredNumberScheduled: 0, numberReady: 0, currentNumberScheduled: 0, numberMisscheduled: 0 } };
}

export function job(m: Meta & { selector?: Record<string, string> }): KubeObject {
  const labels = m.selector ?? { 'job-name': m.name };
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: meta(m), spec: { completions: 1, parallelism: 1, backoffLimit: 6, selector: { matchLabels: labels }, template: { ...podTemplate(labels), spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'docker.io/library/busybox:latest' }] } } }, status: { active: 1 } };
}

export function cronJob(m: Meta & { schedule?: string }): KubeObject {
  return { apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta(m), spec: { schedule: m.schedule ?? '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'docker.io/library/busybox:latest' }] } } } } }, status: {} };
}

export function service(m: Meta & { clusterIP: string; selector?: Record<string, string>; ports?: { port: number; protocol?: string; targetPort?: number; name?: string }[]; type?: string }): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: meta(m),
    spec: {
      type: m.type ?? 'ClusterIP', clusterIP: m.clusterIP, clusterIPs: [m.clusterIP],
      ...(m.selector ? { selector: m.selector } : {}),
      ports: (m.ports ?? [{ port: 80 }]).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port, targetPort: p.targetPort ?? p.port, ...(p.name ? { name: p.name } : {}) })),
    },
    status: { loadBalancer: {} },
  };
}

export function serviceAccount(m: Meta): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(m) };
}

export function configMap(m: Meta & { data: Record<string, string> }): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(m), data: m.data };
}
