// generate_networkpolicy (priority 9200, upstream's GenerateNetworkPolicy): a data source annotated
// `generate_networkpolicy.enable: "true"` (advise_networkpolicy's connections) is not printed; each array of it
// becomes one text record on `advise-<ds>` holding the network policies that allow exactly what was seen.
//
// Who a policy is for: the pod (k8s.namespace, k8s.podLabels, named after k8s.owner.name or k8s.podName) when
// Kubernetes metadata is there; else, on a plain host, the container (runtime.containerName), else the network
// namespace (`netns-<inode>`), with an empty pod selector. Peers are pods or services when the endpoint carries
// Kubernetes metadata (endpoint.k8s.kind/name/namespace/labels/podSelector, from a name resolver), else addresses.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { GadgetError } from '../../gadget/context.js';
import { Kind, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import { ciliumPolicies, k8sPolicies, parseLabels, type Connection, type PeerKind } from './policy.js';

const ANNOTATION = 'generate_networkpolicy.enable';
const PARAM = 'policy-format';
const P = 'operator.GenerateNetworkPolicy.';

interface Source { ds: DataSource; out: DataSource; text: Field; get: (name: string) => Field | undefined }

function str(f: Field | undefined, b: Batch, i: number): string {
  const v = f?.get(b, i);
  return v === undefined || v === null ? '' : String(v);
}

function connections(src: Source, b: Batch): Connection[] {
  const g = src.get;
  const [addr, port, proto, egress] = [g('endpoint.addr'), g('endpoint.port'), g('endpoint.proto'), g('egress')];
  const out: Connection[] = [];
  for (let k = 0; k < b.liveCount; k++) {
    const i = b.live[k]!;
    if (g('k8s.hostnetwork')?.get(b, i) === true) continue; // host-network pods have no policy of their own
    const ns = str(g('k8s.namespace'), b, i);
    const podName = str(g('k8s.podName'), b, i);
    const owner = str(g('k8s.owner.name'), b, i);
    const container = str(g('runtime.containerName'), b, i);
    const netns = str(g('netns_id'), b, i);
    const name = podName ? owner || podName : container || `netns-${netns}`;
    const isEgress = Number(egress?.get(b, i) ?? 0) !== 0;
    const peerAddr = str(addr, b, i);
    // a pod's packets from its own address are not ingress from a peer
    if (!isEgress && peerAddr !== '' && peerAddr === str(g('k8s.podIP'), b, i)) continue;
    const kind = (str(g('endpoint.k8s.kind'), b, i) || 'raw') as PeerKind;
    out.push({
      local: { namespace: ns, labels: podName ? parseLabels(str(g('k8s.podLabels'), b, i)) : {}, name },
      egress: isEgress,
      peer: {
        kind: kind === 'pod' || kind === 'svc' ? kind : 'raw',
        addr: peerAddr,
        namespace: str(g('endpoint.k8s.namespace'), b, i),
        labels: parseLabels(kind === 'svc' ? str(g('endpoint.k8s.podSelector'), b, i) : str(g('endpoint.k8s.labels'), b, i)),
      },
      port: Number(port?.get(b, i) ?? 0),
      proto: str(proto, b, i).toUpperCase(),
    });
  }
  return out;
}

export const networkPolicyOperator: DataOperator = {
  name: 'GenerateNetworkPolicy',
  priority: 9200,
  instantiate(ctx: GadgetContext): OperatorInstance | null {
    const sources: Source[] = [];
    for (const ds of [...ctx.dataSources.values()]) {
      if (ds.annotations.get(ANNOTATION) !== 'true') continue;
      const get = (n: string) => ds.getField(n);
      for (const need of ['endpoint.addr', 'endpoint.port', 'endpoint.proto', 'egress']) {
        if (!get(need)) throw new GadgetError(`data source ${ds.name} asks for network policies (${ANNOTATION}) but has no field ${need}`);
      }
      // its records only feed the policies
      ds.referenced = false;
      const out = ctx.addDataSource(`advise-${ds.name}`, 'single');
      out.annotations.set('cli.default-output-mode', 'advise');
      out.annotations.set('cli.supported-output-modes', 'advise');
      const text = out.addField({ name: 'text', kind: Kind.String, annotations: { 'content-type': 'text/plain', description: 'Network policies (YAML)' } });
      sources.push({ ds, out, text, get });
    }
    if (sources.length === 0) return null;
    return {
      name: 'GenerateNetworkPolicy',
      params: () => [{
        key: PARAM, prefix: P, defaultValue: 'k8s', possibleValues: ['k8s', 'cilium'],
        description: 'Format of the generated policies: k8s (networking.k8s.io/v1 NetworkPolicy) or cilium (cilium.io/v2 CiliumNetworkPolicy)',
      }],
      preStart: () => {
        const format = ctx.params.get(PARAM) ?? 'k8s';
        for (const src of sources) {
          src.ds.subscribe((b) => {
            const conns = connections(src, b);
            if (conns.length === 0) return;
            const out = src.out.newBatch(1);
            src.text.set(out, 0, format === 'cilium' ? ciliumPolicies(conns) : k8sPolicies(conns));
            src.out.emit(out);
          }, 9200);
        }
      },
    };
  },
};
