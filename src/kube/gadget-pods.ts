// The gadget pods (label k8s-app=gadget in the gadget namespace), one per node: the targets kubectl-gadget fans out
// to. --node picks some of them; a node without a gadget pod is an error naming it (as upstream).
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { GADGET_LABEL_SELECTOR } from './manifests.js';
import { KubeError, kubeErrorLine } from './kubeconfig.js';

export interface GadgetTarget {
  node: string;
  pod: string;
  namespace: string;
  /** The pod runs and its container says ready (a pod that is not may still answer; it is tried anyway). */
  ready: boolean;
}

function ready(p: V1Pod): boolean {
  if (p.status?.phase !== 'Running') return false;
  const ready = (p.status.conditions ?? []).find((c) => c.type === 'Ready');
  // The kubelet writes the Ready condition; without one, the containers' own readiness is what there is.
  return ready ? ready.status === 'True' : (p.status.containerStatuses ?? []).length > 0 && (p.status.containerStatuses ?? []).every((c) => c.ready);
}

export async function listGadgetPods(kc: KubeConfig, namespace: string): Promise<GadgetTarget[]> {
  const core = kc.makeApiClient(CoreV1Api);
  let pods: V1Pod[];
  try {
    pods = (await core.listNamespacedPod({ namespace, labelSelector: GADGET_LABEL_SELECTOR })).items;
  } catch (e) {
    throw new KubeError(kubeErrorLine(e, `listing the gadget pods in namespace ${namespace}`, kc.getCurrentCluster()?.server));
  }
  const byNode = new Map<string, GadgetTarget>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    const name = p.metadata?.name;
    if (!node || !name || p.metadata?.deletionTimestamp) continue;
    const t: GadgetTarget = { node, pod: name, namespace, ready: ready(p) };
    // During a rollout a node can have two: prefer the ready one.
    const cur = byNode.get(node);
    if (!cur || (!cur.ready && t.ready)) byNode.set(node, t);
  }
  return [...byNode.values()].sort((a, b) => a.node.localeCompare(b.node));
}

/** The targets for --node (comma-separated, no duplicates), or all of them. */
export function selectTargets(all: GadgetTarget[], nodes: string[], namespace: string): GadgetTarget[] {
  if (nodes.length === 0) {
    if (all.length === 0) throw new KubeError(`no gadget pods in namespace ${namespace}: is Inspektor Gadget deployed? (kubectl gadget deploy)`);
    return all;
  }
  const seen = new Set<string>();
  const out: GadgetTarget[] = [];
  for (const n of nodes) {
    if (seen.has(n)) throw new KubeError(`--node: duplicate node "${n}"`);
    seen.add(n);
    const t = all.find((x) => x.node === n);
    if (!t) throw new KubeError(`node "${n}" does not have a gadget pod in namespace ${namespace}`);
    out.push(t);
  }
  return out;
}

export function parseNodeList(v: string | undefined): string[] {
  if (!v) return [];
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}
