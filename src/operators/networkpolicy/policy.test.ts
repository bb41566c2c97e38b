// Policy generation with Kubernetes metadata (the gadget test covers plain hosts): pods and services as peers,
// namespace selectors across namespaces, identity labels only, loopback left out, upstream's README example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { ciliumPolicies, k8sPolicies, type Connection } from './policy.js';

const client = { namespace: 'default', labels: { run: 'test-pod' }, name: 'test-pod' };
const nginx = { namespace: 'default', labels: { app: 'nginx', 'pod-template-hash': '5d6b' }, name: 'nginx' };
const conns: Connection[] = [
  { local: client, egress: true, peer: { kind: 'svc', addr: '10.96.0.5', namespace: 'default', labels: { app: 'nginx' } }, port: 80, proto: 'TCP' },
  { local: client, egress: true, peer: { kind: 'raw', addr: '1.1.1.1', namespace: '', labels: {} }, port: 443, proto: 'TCP' },
  { local: client, egress: true, peer: { kind: 'raw', addr: '1.1.1.1', namespace: '', labels: {} }, port: 80, proto: 'TCP' },
  { local: client, egress: true, peer: { kind: 'pod', addr: '10.244.0.3', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'pod-template-hash': 'x' } }, port: 53, proto: 'UDP' },
  { local: client, egress: true, peer: { kind: 'raw', addr: '127.0.0.1', namespace: '', labels: {} }, port: 8080, proto: 'TCP' },
  // the same peer and port twice: one rule
  { local: client, egress: true, peer: { kind: 'raw', addr: '1.1.1.1', namespace: '', labels: {} }, port: 443, proto: 'TCP' },
  { local: nginx, egress: false, peer: { kind: 'pod', addr: '10.244.0.9', namespace: 'default', labels: { run: 'test-pod' } }, port: 80, proto: 'TCP' },
];

test('k8s: a policy per workload, sorted by name; peers as ipBlock, podSelector, namespaceSelector', () => {
  const docs = parseAllDocuments(k8sPolicies(conns)).map((d) => d.toJS() as Record<string, any>);
  assert.deepEqual(docs.map((d) => d['metadata'].name), ['nginx-network', 'test-pod-network']);
  const [n, c] = docs as [Record<string, any>, Record<string, any>];
  assert.deepEqual(n['spec'].podSelector, { matchLabels: { app: 'nginx' } }, 'pod-template-hash is not identity');
  assert.deepEqual(n['spec'].ingress, [{ from: [{ podSelector: { matchLabels: { run: 'test-pod' } } }], ports: [{ port: 80, protocol: 'TCP' }] }]);
  assert.equal(n['spec'].egress, undefined);
  assert.equal(n['metadata'].namespace, 'default');
  assert.deepEqual(c['spec'].egress, [
    { ports: [{ port: 80, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '1.1.1.1/32' } }] },
    { ports: [{ port: 80, protocol: 'TCP' }], to: [{ podSelector: { matchLabels: { app: 'nginx' } } }] },
    { ports: [{ port: 443, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '1.1.1.1/32' } }] },
    { ports: [{ port: 53, protocol: 'UDP' }], to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }] },
  ]);
});

test('cilium: endpoint selectors with the namespace label, CIDRs, ports grouped per peer', () => {
  const docs = parseAllDocuments(ciliumPolicies(conns)).map((d) => d.toJS() as Record<string, any>);
  const c = docs.find((d) => d['metadata'].name === 'test-pod-network')!;
  assert.equal(c['kind'], 'CiliumNetworkPolicy');
  assert.deepEqual(c['spec'].endpointSelector, { matchLabels: { run: 'test-pod' } });
  const cidr = c['spec'].egress.find((r: Record<string, unknown>) => r['toCIDR'])!;
  assert.deepEqual(cidr, { toCIDR: ['1.1.1.1/32'], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }, { port: '443', protocol: 'TCP' }] }] });
  assert.ok(c['spec'].egress.some((r: Record<string, any>) => r['toEndpoints']?.[0].matchLabels['io.kubernetes.pod.namespace'] === 'kube-system'));
  assert.equal(c['spec'].egress.length, 3, 'loopback has no rule');
});

test('documents are separated by ---; one document parses alone', () => {
  const text = k8sPolicies(conns);
  assert.equal(text.split('\n---\n').length, 2);
  assert.equal(parse(k8sPolicies(conns.slice(-1)))['kind'], 'NetworkPolicy');
});
