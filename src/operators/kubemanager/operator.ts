// KubeManager (priority -1): LocalManager's work for a node of a Kubernetes cluster. Containers still come from
// the node's runtime (containerd's k8s.io namespace with CRI labels); their pods come from the API server
// (a PodSource the runtime hands in: this node's pods, owners resolved), so events carry k8s.node, namespace,
// podName, containerName, podLabels, owner.kind/name and hostnetwork, and the selectors -n/-p/-c/-l (upstream's
// keys, with --k8s-* as alternative keys) become mount-namespace ids in the kernel filter map, following pods and
// containers that start later.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { parseBool, type ParamDesc } from '../../gadget/params.js';
import { RUNTIME_NAMES } from '../../containers/index.js';
import { enrichmentKey } from '../common/container-fields.js';
import { ContainerManager, MNTNS_FILTER_MAP } from '../common/container-manager.js';
import { labelSelectorError, parseLabelSelector, parseList, type ContainerSelector } from '../common/container-selector.js';
import type { KubeSources, PodSource } from '../common/pod-source.js';

const PREFIX = 'operator.KubeManager.';

export function kubeManagerParams(): ParamDesc[] {
  return [
    { key: 'namespace', alias: 'n', alternativeKey: 'k8s-namespace', prefix: PREFIX, defaultValue: '', description: 'Kubernetes namespaces to filter on (comma list, ! to exclude)' },
    { key: 'podname', alias: 'p', alternativeKey: 'k8s-podname', prefix: PREFIX, defaultValue: '', description: 'Kubernetes pods to filter on (comma list, ! to exclude)' },
    { key: 'selector', alias: 'l', alternativeKey: 'k8s-selector', prefix: PREFIX, defaultValue: '', validate: labelSelectorError,
      description: "Kubernetes label selector to filter on: key=value[,key=value...]; '!key=value' or 'key=!value' excludes" },
    { key: 'containername', alias: 'c', alternativeKey: 'k8s-containername', prefix: PREFIX, defaultValue: '', description: 'Kubernetes container names to filter on (comma list, ! to exclude)' },
    { key: 'runtime-containername', prefix: PREFIX, defaultValue: '', description: 'Runtime-assigned container names to filter on (not the name in the pod spec)' },
    { key: 'runtime-containerimage-digest', prefix: PREFIX, defaultValue: '', description: 'Container image digests to filter on' },
    { key: 'all-namespaces', alias: 'A', prefix: PREFIX, typeHint: 'bool', defaultValue: 'false', description: 'Show data from pods in all namespaces' },
    { key: 'host', prefix: PREFIX, typeHint: 'bool', defaultValue: 'false', description: 'Show data from both the host and containers' },
    { key: 'runtimes', prefix: PREFIX, defaultValue: RUNTIME_NAMES.join(','), description: 'Container runtimes to follow',
      validate: (v) => v.split(',').every((r) => (RUNTIME_NAMES as readonly string[]).includes(r.trim())) ? undefined : `supported runtimes: ${RUNTIME_NAMES.join(', ')}` },
    { key: 'containerd-socketpath', prefix: PREFIX, defaultValue: '', description: 'containerd unix socket (default /run/containerd/containerd.sock)' },
    { key: 'crio-socketpath', prefix: PREFIX, defaultValue: '', description: 'CRI-O CRI unix socket (default /run/crio/crio.sock)' },
    { key: 'containerd-namespace', prefix: PREFIX, defaultValue: 'k8s.io', description: 'containerd namespace to follow' },
  ];
}

const FLAGS = { names: '--runtime-containername', k8sNamespaces: '-n', k8sPods: '-p', k8sContainers: '-c', podLabels: '-l' };

class KubeManagerInstance implements OperatorInstance {
  readonly name = 'KubeManager';
  private readonly manager: ContainerManager;
  private readonly pods: PodSource;

  constructor(private readonly ctx: GadgetContext, kube: KubeSources) {
    this.pods = kube.pods();
    this.manager = new ContainerManager(ctx, this.name, this.pods);
  }

  params(): ParamDesc[] { return kubeManagerParams(); }

  private selector(): ContainerSelector {
    const p = (k: string) => parseList(this.ctx.params.get(PREFIX + k));
    const all = parseBool(this.ctx.params.get(PREFIX + 'all-namespaces'));
    return {
      names: p('runtime-containername'), k8sNamespaces: all ? [] : p('namespace'), k8sPods: p('podname'), k8sContainers: p('containername'),
      imageDigests: p('runtime-containerimage-digest'), imageNames: [],
      podLabels: parseLabelSelector(this.ctx.params.get(PREFIX + 'selector')),
    };
  }

  async preStart(ctx: GadgetContext): Promise<void> {
    const g = (k: string) => ctx.params.get(PREFIX + k) || undefined;
    // Pods first: containers found running are joined to them before the filter map is filled.
    await this.pods.start({ warn: (m) => ctx.log.warnOnce(`KubeManager: ${m}`), debug: (m) => ctx.log.debug(`KubeManager: ${m}`) });
    await this.manager.start(ctx, {
      collection: {
        runtimes: parseList(g('runtimes')),
        explicitRuntimes: ctx.params.isSet(PREFIX + 'runtimes'),
        containerdSocket: g('containerd-socketpath'), crioSocket: g('crio-socketpath'),
        containerdNamespace: g('containerd-namespace'),
      },
      selector: this.selector(),
      selectorFlags: FLAGS,
      host: parseBool(ctx.params.get(PREFIX + 'host')),
    });
  }

  async postStop(): Promise<void> {
    await this.manager.stop();
    await this.pods.stop();
  }
}

/** The KubeManager for a run on a cluster node; `kube` comes from the runtime (src/kube). */
export function kubeManagerOperator(kube: KubeSources): DataOperator {
  return {
    name: 'KubeManager',
    priority: -1,
    instantiate(ctx) {
      const needed = ctx.offers.declaredMap(MNTNS_FILTER_MAP) !== undefined || [...ctx.dataSources.values()].some((ds) => enrichmentKey(ds));
      return needed ? new KubeManagerInstance(ctx, kube) : null;
    },
  };
}
