// KubeIPResolver (priority 10, upstream's): every l4 endpoint (gadget_l4endpoint_t) of a network gadget gets
// k8s.kind (pod/svc/raw), k8s.name, k8s.namespace, k8s.labels and k8s.podSelector of the peer, looked up by IP
// in the cluster's pods and services (a KubeInventory the runtime hands in), and its endpoint column becomes
// p/<ns>/<pod>:<port>, s/<ns>/<svc>:<port> or r/<addr>:<port>. A host-network pod's address is left unnamed
// (it is the node's), as upstream.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { FieldFlag, Kind, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import type { KubeInventory, PodInfo, ServiceInfo } from '../common/pod-source.js';

export const PRIORITY = 10;

const labelText = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');

type Peer = { kind: 'pod'; pod: PodInfo } | { kind: 'svc'; svc: ServiceInfo } | { kind: 'raw' } | { kind: 'hostnet' };

/** Add the k8s sub-fields to each l4 endpoint of `ds`; returns how many endpoints got them. */
export function installIpResolver(ds: DataSource, inv: KubeInventory): number {
  let n = 0;
  for (const ep of ds.fields.filter((f) => f.typeNames().includes('gadget_l4endpoint_t'))) {
    const child = (name: string) => ds.getField(`${ep.fullName}.${name}`);
    const addr = child('addr');
    const addrRaw = child('addr_raw');
    const version = child('version');
    if (!addr || !addrRaw || !version || child('k8s')) continue;
    const getAddr = addr.get;
    let lastB: Batch | undefined; let lastI = -1; let last: Peer = { kind: 'raw' };
    const peer = (b: Batch, i: number): Peer => {
      if (b === lastB && i === lastI) return last;
      lastB = b; lastI = i;
      const ip = String(getAddr(b, i) ?? '');
      const pod = inv.podByIp(ip);
      if (pod) last = pod.hostNetwork ? { kind: 'hostnet' } : { kind: 'pod', pod };
      else { const svc = inv.serviceByIp(ip); last = svc ? { kind: 'svc', svc } : { kind: 'raw' }; }
      return last;
    };
    const invalidation = (cb: () => void) => inv.onChange(cb);
    const derivation = { kind: 'computed' as const, inputs: [addrRaw, version], invalidation };
    const k8s = ds.addField({ name: 'k8s', parent: ep, kind: Kind.Invalid, flags: FieldFlag.Empty, tags: ['src:kubeipresolver'] });
    const sub = (name: string, ann: Record<string, string>, pick: (p: Peer) => string): Field => {
      const f = ds.addField({ name, parent: k8s, kind: Kind.String, tags: ['src:kubeipresolver'], annotations: { 'columns.hidden': 'true', ...ann }, storage: { type: 'derived', compute: (b, i) => pick(peer(b, i)) } });
      f.derivation = derivation;
      return f;
    };
    sub('kind', { 'columns.maxwidth': '12' }, (p) => (p.kind === 'hostnet' ? '' : p.kind));
    sub('name', { template: 'pod' }, (p) => (p.kind === 'pod' ? p.pod.name : p.kind === 'svc' ? p.svc.name : ''));
    sub('namespace', { template: 'namespace' }, (p) => (p.kind === 'pod' ? p.pod.namespace : p.kind === 'svc' ? p.svc.namespace : ''));
    sub('labels', {}, (p) => (p.kind === 'pod' ? labelText(p.pod.labels) : p.kind === 'svc' ? labelText(p.svc.labels) : ''));
    sub('podSelector', {}, (p) => (p.kind === 'svc' ? labelText(p.svc.selector) : ''));
    const endpoint = child('endpoint');
    const port = child('port');
    if (endpoint && port) {
      const base = endpoint.get;
      const getPort = port.get;
      endpoint.override((b, i) => {
        const p = peer(b, i);
        if (p.kind === 'pod') return `p/${p.pod.namespace}/${p.pod.name}:${getPort(b, i)}`;
        if (p.kind === 'svc') return `s/${p.svc.namespace}/${p.svc.name}:${getPort(b, i)}`;
        if (p.kind === 'raw') return `r/${base(b, i)}`;
        return base(b, i);
      }, { kind: 'computed', inputs: [addrRaw, version, port], invalidation });
    }
    n++;
  }
  return n;
}

class KubeIpResolverInstance implements OperatorInstance {
  readonly name = 'KubeIPResolver';
  constructor(private readonly inv: KubeInventory) {}
  async preStart(ctx: GadgetContext): Promise<void> {
    await this.inv.start({ warn: (m) => ctx.log.warnOnce(`KubeIPResolver: ${m}`), debug: (m) => ctx.log.debug(`KubeIPResolver: ${m}`) });
  }
  async postStop(): Promise<void> { await this.inv.stop(); }
}

export function kubeIpResolverOperator(inventory: () => KubeInventory): DataOperator {
  return {
    name: 'KubeIPResolver',
    priority: PRIORITY,
    instantiate(ctx) {
      const inv = inventory();
      let n = 0;
      for (const ds of ctx.dataSources.values()) n += installIpResolver(ds, inv);
      return n > 0 ? new KubeIpResolverInstance(inv) : null;
    },
  };
}
