// Kubernetes client use: whether this process runs as a node of a cluster (NODE_NAME, as upstream's gadget pod)
// and, if so, the pod and inventory sources the Kubernetes-aware operators get from the runtime.
import type { KubeSources } from '../operators/common/pod-source.js';
import { KubeConfigError, loadKubeConfig } from './config.js';
import { ClusterInventory } from './inventory.js';
import { NodePodSource } from './pods.js';
import { sharedInventory, sharedPods } from './shared.js';

export { KubeConfigError, loadKubeConfig, describeKubeError } from './config.js';

/**
 * Kubernetes sources when NODE_NAME is set (the DaemonSet's downward API sets it), else undefined. With
 * NODE_NAME but no usable configuration: undefined and `warn` gets one line (the run keeps runtime-label
 * Kubernetes fields only).
 */
export async function kubeSourcesFromEnv(warn: (msg: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<KubeSources | undefined> {
  const node = env['NODE_NAME'];
  if (!node) return undefined;
  let loaded;
  try {
    loaded = await loadKubeConfig(env);
  } catch (e) {
    if (!(e instanceof KubeConfigError)) throw e;
    warn(`NODE_NAME=${node} asks for Kubernetes enrichment, but ${e.message}; continuing with container-runtime labels only`);
    return undefined;
  }
  const { kc, server } = loaded;
  return {
    node,
    pods: sharedPods(() => new NodePodSource(node, kc, server)),
    inventory: sharedInventory(() => new ClusterInventory(kc, server)),
  };
}
