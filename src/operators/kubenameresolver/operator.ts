// KubeNameResolver (priority 11, upstream's): data sources annotated `kubenameresolver.enable: true` that carry
// k8s.namespace and k8s.podName get k8s.hostIP and k8s.podIP of that pod, from the cluster inventory.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { Kind, type DataSource } from '../../datasource/index.js';
import type { KubeInventory } from '../common/pod-source.js';

export function installNameResolver(ds: DataSource, inv: KubeInventory): boolean {
  if (ds.annotations.get('kubenameresolver.enable') !== 'true') return false;
  const k8s = ds.getField('k8s');
  const podName = ds.getField('k8s.podName');
  const namespace = ds.getField('k8s.namespace');
  if (!k8s || !podName || !namespace || ds.getField('k8s.podIP')) return false;
  const gp = podName.get;
  const gn = namespace.get;
  const pod = (b: Parameters<typeof gp>[0], i: number) => inv.podByName(String(gn(b, i) ?? ''), String(gp(b, i) ?? ''));
  ds.addField({ name: 'hostIP', parent: k8s, kind: Kind.String, tags: ['src:kubenameresolver'], annotations: { 'columns.hidden': 'true' }, storage: { type: 'derived', compute: (b, i) => pod(b, i)?.hostIP ?? '' } });
  ds.addField({ name: 'podIP', parent: k8s, kind: Kind.String, tags: ['src:kubenameresolver'], annotations: { 'columns.hidden': 'true' }, storage: { type: 'derived', compute: (b, i) => pod(b, i)?.podIP ?? '' } });
  return true;
}

class KubeNameResolverInstance implements OperatorInstance {
  readonly name = 'KubeNameResolver';
  constructor(private readonly inv: KubeInventory) {}
  async preStart(ctx: GadgetContext): Promise<void> {
    await this.inv.start({ warn: (m) => ctx.log.warnOnce(`KubeNameResolver: ${m}`), debug: (m) => ctx.log.debug(`KubeNameResolver: ${m}`) });
  }
  async postStop(): Promise<void> { await this.inv.stop(); }
}

export function kubeNameResolverOperator(inventory: () => KubeInventory): DataOperator {
  return {
    name: 'KubeNameResolver',
    priority: 11,
    instantiate(ctx) {
      const inv = inventory();
      let n = 0;
      for (const ds of ctx.dataSources.values()) if (installNameResolver(ds, inv)) n++;
      return n > 0 ? new KubeNameResolverInstance(inv) : null;
    },
  };
}
