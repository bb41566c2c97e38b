// Network policies from observed connections (upstream's generate_networkpolicy): one policy per local workload,
// one rule per (peer, port, protocol) and direction, as Kubernetes NetworkPolicy or CiliumNetworkPolicy YAML.
import { yaml } from '../../format/yaml-lazy.js';

export type PeerKind = 'pod' | 'svc' | 'raw';

export interface Connection {
  /** Who the policy is for: the pod (namespace + labels), else the container, else the network namespace. */
  local: { namespace: string; labels: Record<string, string>; name: string };
  egress: boolean;
  /** The other end: a pod, a service (its selector) or an address. */
  peer: { kind: PeerKind; addr: string; namespace: string; labels: Record<string, string> };
  port: number;
  /** TCP or UDP */
  proto: string;
}

/** Labels that say nothing about a workload's identity (set per revision or placement). */
const IGNORED_LABELS = new Set([
  'controller-revision-hash', 'pod-template-generation', 'pod-template-hash',
  'topology.kubernetes.io/region', 'topology.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/zone',
]);

export function identityLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) if (!IGNORED_LABELS.has(k)) out[k] = labels[k]!;
  return out;
}

/** "a=1,b=2" (the form k8s.podLabels has) as a map. */
export function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(',')) {
    const i = pair.indexOf('=');
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

const labelKey = (l: Record<string, string>) => Object.entries(identityLabels(l)).map(([k, v]) => `${k}=${v}`).join(',');
const localKey = (c: Connection) => `${c.local.namespace}:${labelKey(c.local.labels)}:${c.local.name}`;
const peerKey = (c: Connection) => `${c.peer.kind}:${c.peer.kind === 'raw' ? c.peer.addr : `${c.peer.namespace}:${labelKey(c.peer.labels)}`}`;

function group(conns: Connection[]): Connection[][] {
  const by = new Map<string, Connection[]>();
  for (const c of conns) {
    const k = localKey(c);
    let l = by.get(k);
    if (!l) by.set(k, (l = []));
    l.push(c);
  }
  return [...by.values()];
}

/** Loopback is not something a network policy can allow or deny: no rule for it (as upstream). */
const isLoopback = (c: Connection) => c.peer.kind === 'raw' && c.peer.addr.startsWith('127.');

function k8sPeer(c: Connection): Record<string, unknown> {
  if (c.peer.kind === 'raw') return { ipBlock: { cidr: `${c.peer.addr}/32` } };
  const p: Record<string, unknown> = { podSelector: { matchLabels: c.peer.kind === 'pod' ? identityLabels(c.peer.labels) : c.peer.labels } };
  if (c.peer.namespace !== c.local.namespace) p['namespaceSelector'] = { matchLabels: { 'kubernetes.io/metadata.name': c.peer.namespace } };
  return p;
}

/** Rules sorted by protocol, port, then their YAML (upstream's order). */
function sortRules<T extends { ports: { port: number; protocol: string }[] }>(rules: T[]): T[] {
  return rules.sort((a, b) => {
    const pa = a.ports[0]!; const pb = b.ports[0]!;
    if (pa.protocol !== pb.protocol) return pa.protocol < pb.protocol ? -1 : 1;
    if (pa.port !== pb.port) return pa.port - pb.port;
    const ya = yaml().stringify(a, { sortMapEntries: true }); const yb = yaml().stringify(b, { sortMapEntries: true });
    return ya < yb ? -1 : ya > yb ? 1 : 0;
  });
}

function uniqueByPeerPort(conns: Connection[]): Connection[] {
  const seen = new Map<string, Connection>();
  for (const c of conns) { const k = `${peerKey(c)}:${c.port}:${c.proto}`; if (!seen.has(k)) seen.set(k, c); }
  return [...seen.values()];
}

const toYaml = (docs: unknown[]) => docs.map((d) => yaml().stringify(d, { sortMapEntries: true, indentSeq: false, lineWidth: 0 })).join('---\n');

/** Kubernetes `networking.k8s.io/v1` NetworkPolicy documents, sorted by name, separated by `---`. */
export function k8sPolicies(conns: Connection[]): string {
  const docs = group(conns).map((cs) => {
    const l = cs[0]!.local;
    const rule = (c: Connection) => ({ ports: [{ port: c.port, protocol: c.proto }], peer: k8sPeer(c) });
    const egress = sortRules(uniqueByPeerPort(cs.filter((c) => c.egress && !isLoopback(c))).map(rule).map(({ ports, peer }) => ({ ports, to: [peer] })));
    const ingress = sortRules(uniqueByPeerPort(cs.filter((c) => !c.egress && !isLoopback(c))).map(rule).map(({ ports, peer }) => ({ ports, from: [peer] })));
    const spec: Record<string, unknown> = { podSelector: { matchLabels: identityLabels(l.labels) }, policyTypes: ['Ingress', 'Egress'] };
    if (egress.length) spec['egress'] = egress;
    if (ingress.length) spec['ingress'] = ingress;
    const metadata: Record<string, unknown> = { creationTimestamp: null, name: `${l.name}-network` };
    if (l.namespace) metadata['namespace'] = l.namespace;
    return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata, spec };
  }).sort((a, b) => (a.metadata['name'] as string).localeCompare(b.metadata['name'] as string));
  return toYaml(docs);
}

/** `cilium.io/v2` CiliumNetworkPolicy documents: one rule per peer with all its ports. */
export function ciliumPolicies(conns: Connection[]): string {
  const docs = group(conns).map((cs) => {
    const l = cs[0]!.local;
    const rules = (egress: boolean) => {
      const byPeer = new Map<string, Connection[]>();
      for (const c of cs.filter((x) => x.egress === egress && !isLoopback(x))) {
        const k = peerKey(c);
        let g = byPeer.get(k);
        if (!g) byPeer.set(k, (g = []));
        g.push(c);
      }
      return [...byPeer.values()].map((g) => {
        const c = g[0]!;
        const ports = [...new Map(g.map((x) => [`${x.port}/${x.proto}`, { port: String(x.port), protocol: x.proto }])).values()]
          .sort((a, b) => Number(a.port) - Number(b.port) || a.protocol.localeCompare(b.protocol));
        const r: Record<string, unknown> = { toPorts: [{ ports }] };
        if (c.peer.kind === 'raw') r[egress ? 'toCIDR' : 'fromCIDR'] = [`${c.peer.addr}/32`];
        else {
          const sel: Record<string, string> = { ...(c.peer.kind === 'pod' ? identityLabels(c.peer.labels) : c.peer.labels) };
          if (c.peer.namespace && c.peer.namespace !== l.namespace) sel['io.kubernetes.pod.namespace'] = c.peer.namespace;
          r[egress ? 'toEndpoints' : 'fromEndpoints'] = [{ matchLabels: sel }];
        }
        return r;
      }).sort((a, b) => { const ya = yaml().stringify(a, { sortMapEntries: true }); const yb = yaml().stringify(b, { sortMapEntries: true }); return ya < yb ? -1 : ya > yb ? 1 : 0; });
    };
    const spec: Record<string, unknown> = { endpointSelector: { matchLabels: identityLabels(l.labels) } };
    const e = rules(true); const i = rules(false);
    if (e.length) spec['egress'] = e;
    if (i.length) spec['ingress'] = i;
    const metadata: Record<string, unknown> = { creationTimestamp: null, name: `${l.name}-network` };
    if (l.namespace) metadata['namespace'] = l.namespace;
    return { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata, spec };
  }).sort((a, b) => (a.metadata['name'] as string).localeCompare(b.metadata['name'] as string));
  return toYaml(docs);
}
