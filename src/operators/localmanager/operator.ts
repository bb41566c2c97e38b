// LocalManager (priority -1): follows the host's container runtimes, enriches events with container fields,
// and—unless --host—hands the eBPF program a mount-namespace filter map so other events die in the kernel.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { parseBool, type ParamDesc } from '../../gadget/params.js';
import { RUNTIME_NAMES } from '../../containers/index.js';
import { enrichmentKey } from '../common/container-fields.js';
import { ContainerManager, MNTNS_FILTER_MAP } from '../common/container-manager.js';
import { labelSelectorError, parseLabelSelector, parseList, type ContainerSelector } from '../common/container-selector.js';

const PREFIX = 'operator.LocalManager.';

export function localManagerParams(): ParamDesc[] {
  return [
    { key: 'containername', alias: 'c', alternativeKey: 'runtime-containername', prefix: PREFIX, defaultValue: '', description: 'Show only data from containers with these names (comma list, ! to exclude)' },
    { key: 'host', prefix: PREFIX, typeHint: 'bool', defaultValue: 'false', description: 'Show data from both the host and containers' },
    { key: 'k8s-namespace', prefix: PREFIX, defaultValue: '', description: 'Show only data from pods in these Kubernetes namespaces' },
    { key: 'k8s-podname', prefix: PREFIX, defaultValue: '', description: 'Show only data from these Kubernetes pods' },
    { key: 'k8s-containername', prefix: PREFIX, defaultValue: '', description: 'Show only data from these Kubernetes containers' },
    { key: 'k8s-selector', alias: 'l', prefix: PREFIX, defaultValue: '', description: 'Show only data from pods with these labels (key=value,...; the runtime\'s pod sandbox labels)', validate: labelSelectorError },
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
  private readonly manager: ContainerManager;

  constructor(private readonly ctx: GadgetContext) {
    this.manager = new ContainerManager(ctx, this.name);
  }

  params(): ParamDesc[] { return localManagerParams(); }

  private selector(): ContainerSelector {
    const p = (k: string) => parseList(this.ctx.params.get(PREFIX + k));
    return {
      names: p('containername'), k8sNamespaces: p('k8s-namespace'), k8sPods: p('k8s-podname'), k8sContainers: p('k8s-containername'),
      imageDigests: p('runtime-containerimage-digest'), imageNames: p('runtime-containerimage-name'),
      podLabels: parseLabelSelector(this.ctx.params.get(PREFIX + 'k8s-selector')),
    };
  }

  async preStart(ctx: GadgetContext): Promise<void> {
    const g = (k: string) => ctx.params.get(PREFIX + k) || undefined;
    await this.manager.start(ctx, {
      collection: {
        runtimes: parseList(g('runtimes')),
        explicitRuntimes: ctx.params.isSet(PREFIX + 'runtimes'),
        dockerSocket: g('docker-socketpath'), containerdSocket: g('containerd-socketpath'),
        crioSocket: g('crio-socketpath'), podmanSocket: g('podman-socketpath'),
        containerdNamespace: g('containerd-namespace'),
      },
      selector: this.selector(),
      host: parseBool(ctx.params.get(PREFIX + 'host')),
    });
  }

  async postStop(): Promise<void> {
    await this.manager.stop();
  }
}

export const localManagerOperator: DataOperator = {
  name: 'LocalManager',
  priority: -1,
  instantiate(ctx) {
    const needed = ctx.offers.declaredMap(MNTNS_FILTER_MAP) !== undefined || [...ctx.dataSources.values()].some((ds) => enrichmentKey(ds));
    return needed ? new LocalManagerInstance(ctx) : null;
  },
};
