// Kubernetes sources in recorded and replayed runs. What the API server told a run is a host fact like any other
// (src/gadget/host-facts.ts), so a replay shows the recorded cluster's pods and services without one:
//   kube          key `node`:              the run was a node of a cluster (KubeManager and the resolvers ran);
//   k8s-pod-ip    key the IP:              the pod with that IP (KubeIPResolver), null when none;
//   k8s-svc-ip    key the IP:              the service with that cluster IP (KubeIPResolver), null when none;
//   k8s-pod-name  key `namespace/name`:    that pod (KubeNameResolver), null when none.
// KubeManager's own answers (a mount namespace's container, joined to its pod) are already `container-mntns` /
// `container-netns` facts of the container manager, recorded as the pod-enriched views.
import type { HostFacts } from '../../gadget/host-facts.js';
import type { KubeInventory, KubeSources, PodInfo, PodSource, ServiceInfo } from './pod-source.js';

const NODE = ['kube', 'node'] as const;
const KINDS = new Set(['k8s-pod-ip', 'k8s-svc-ip', 'k8s-pod-name']);

/** A pod as a fact (JSON: the container-id map as an object). */
type PodFact = Omit<PodInfo, 'containerIds'> & { containerIds: Record<string, string> };

const podFact = (p: PodInfo | undefined): PodFact | null => (p ? { ...p, containerIds: Object.fromEntries(p.containerIds) } : null);

/** Recorded pods back as PodInfo, converted once per recorded value (answers are asked per record). */
const pods = new WeakMap<object, PodInfo>();
function podOf(v: PodFact | null | undefined): PodInfo | undefined {
  if (!v || typeof v !== 'object') return undefined;
  let p = pods.get(v);
  if (!p) { p = { ...v, containerIds: new Map(Object.entries(v.containerIds ?? {})) }; pods.set(v, p); }
  return p;
}

/** A recording run's Kubernetes sources: the live ones, with every inventory answer logged as a fact. */
export function recordKubeSources(live: KubeSources, facts: HostFacts): KubeSources {
  facts.note(NODE[0], NODE[1], live.node);
  return {
    node: live.node,
    pods: () => live.pods(),
    inventory: () => {
      const inv = live.inventory();
      const logged = <T>(kind: string, key: string, v: T, fact: (x: T) => unknown): T => { facts.ask(kind, key, () => fact(v), null); return v; };
      return {
        start: (log) => inv.start(log),
        stop: () => inv.stop(),
        onChange: (cb) => inv.onChange(cb),
        podByIp: (ip) => logged('k8s-pod-ip', ip, inv.podByIp(ip), podFact),
        serviceByIp: (ip) => logged('k8s-svc-ip', ip, inv.serviceByIp(ip), (s) => s ?? null),
        podByName: (ns, name) => logged('k8s-pod-name', `${ns}/${name}`, inv.podByName(ns, name), podFact),
      };
    },
  };
}

/** The node a recording was made on as a cluster node, or undefined (a run with LocalManager). */
export function recordedKubeNode(facts: HostFacts): string | undefined {
  const n = facts.ask<unknown>(NODE[0], NODE[1], () => null, null);
  return typeof n === 'string' && n ? n : undefined;
}

/**
 * A replay's Kubernetes sources: nothing to start or reach; every answer is the recording's. The pod source
 * knows no pods (KubeManager in a replay asks the recorded container answers, already joined to their pods).
 */
const ENDPOINT_FIELDS = 'the endpoints\' k8s fields (*.endpoint, *.k8s.*)';

export function replayKubeSources(facts: HostFacts, node: string): KubeSources {
  const podSource: PodSource = {
    node,
    start: async () => undefined,
    stop: async () => undefined,
    byUid: () => undefined,
    byName: () => undefined,
    list: () => [],
    onChange: () => () => undefined,
  };
  const listeners = new Set<() => void>();
  facts.onSet((kind, _key, changed) => { if (changed && KINDS.has(kind)) for (const cb of listeners) cb(); });
  const inventory: KubeInventory = {
    start: async () => undefined,
    stop: async () => undefined,
    onChange: (cb) => { listeners.add(cb); return () => listeners.delete(cb); },
    // An address or name the recorded run never resolved (it did not show these fields) fails naming them
    // (MissingFactError) rather than printing the raw address as if the cluster had no such pod.
    podByIp: (ip) => podOf(facts.ask<PodFact | null>('k8s-pod-ip', ip, () => null, null, ENDPOINT_FIELDS)),
    serviceByIp: (ip) => facts.ask<ServiceInfo | null>('k8s-svc-ip', ip, () => null, null, ENDPOINT_FIELDS) ?? undefined,
    podByName: (ns, name) => podOf(facts.ask<PodFact | null>('k8s-pod-name', `${ns}/${name}`, () => null, null, 'k8s pod name fields')),
  };
  return { node, pods: () => podSource, inventory: () => inventory };
}
