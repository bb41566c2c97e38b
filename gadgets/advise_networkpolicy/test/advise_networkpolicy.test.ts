// advise_networkpolicy: two network namespaces made by the test, joined by a veth pair. From inside namespace A,
// ig records what A's processes connect to (TCP 8080 and UDP 53 in B) and what connects to A (TCP 9090 from B);
// when it stops, the generator prints one NetworkPolicy allowing exactly that (or a CiliumNetworkPolicy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { IgProcess } from '../../../test/harness/ig.js';
import { LineChild, TestNetns, run } from '../../../test/harness/activity.js';

const A_IP = '10.251.7.1';
const B_IP = '10.251.7.2';
const vethA = `ignpa${process.pid % 100000}`;
const vethB = `ignpb${process.pid % 100000}`;
let a: TestNetns;
let b: TestNetns;
const children: LineChild[] = [];

// TCP listener on port 8080 and UDP socket on port 53 in B; TCP listener on 9090 in A
const LISTEN = (ip: string, tcp: number, udp?: number) => `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('${ip}', ${tcp})); s.listen()
${udp ? `u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('${ip}', ${udp}))` : ''}
print('listening', flush=True)
while True:
    c, _ = s.accept(); c.close()
`;
const CONNECT = (ip: string, tcp: number, udp?: number) => `
import socket
c = socket.create_connection(('${ip}', ${tcp})); c.close()
${udp ? `u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'q', ('${ip}', ${udp}))` : ''}
`;

before(async () => {
  a = new TestNetns('npa');
  b = new TestNetns('npb');
  run('ip', ['link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB]);
  run('ip', ['link', 'set', vethA, 'netns', a.name]);
  run('ip', ['link', 'set', vethB, 'netns', b.name]);
  run('ip', ['-n', a.name, 'addr', 'add', `${A_IP}/24`, 'dev', vethA]);
  run('ip', ['-n', b.name, 'addr', 'add', `${B_IP}/24`, 'dev', vethB]);
  run('ip', ['-n', a.name, 'link', 'set', vethA, 'up']);
  run('ip', ['-n', b.name, 'link', 'set', vethB, 'up']);
  for (const [ns, src] of [[b, LISTEN(B_IP, 8080, 53)], [a, LISTEN(A_IP, 9090)]] as const) {
    const c = new LineChild(ns.prefix[0]!, [...ns.prefix.slice(1), 'python3', '-c', src]);
    children.push(c);
    await c.waitLine(/^listening/);
  }
});
after(async () => {
  for (const c of children) await c.kill();
  a?.del(); // deleting a namespace deletes its end of the veth pair, and with it the other end
  b?.del();
});

async function advise(extra: string[]): Promise<string> {
  const ig = new IgProcess(['run', 'advise_networkpolicy', '--host', '-v', ...extra], undefined, { prefix: a.prefix });
  // a socket filter has no BPF link to wait for: -v says when it is attached
  for (let t = Date.now(); !/program ig_trace_net: loaded, attached/.test(ig.stderr); ) {
    if (Date.now() - t > 20000 || ig.child.exitCode !== null) throw new Error(`ig did not attach: ${ig.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  a.exec('python3', ['-c', CONNECT(B_IP, 8080, 53)]);
  b.exec('python3', ['-c', CONNECT(A_IP, 9090)]);
  // the socket filter sees the packets at once; the map is read when ig stops
  await new Promise((r) => setTimeout(r, 300));
  const r = await ig.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('k8s: one NetworkPolicy with the egress and ingress seen, nothing else', async () => {
  const out = await advise([]);
  const docs = parseAllDocuments(out).map((d) => d.toJS() as Record<string, any>);
  assert.equal(docs.length, 1, out);
  const p = docs[0]!;
  assert.equal(p['apiVersion'], 'networking.k8s.io/v1');
  assert.equal(p['kind'], 'NetworkPolicy');
  // a namespace outside containers and Kubernetes: named after it, empty pod selector
  assert.equal(p['metadata'].name, `netns-${a.inode}-network`);
  assert.deepEqual(p['spec'].podSelector, { matchLabels: {} });
  assert.deepEqual(p['spec'].policyTypes, ['Ingress', 'Egress']);
  // sorted by protocol then port, as upstream
  assert.deepEqual(p['spec'].egress, [
    { ports: [{ port: 8080, protocol: 'TCP' }], to: [{ ipBlock: { cidr: `${B_IP}/32` } }] },
    { ports: [{ port: 53, protocol: 'UDP' }], to: [{ ipBlock: { cidr: `${B_IP}/32` } }] },
  ]);
  assert.deepEqual(p['spec'].ingress, [{ from: [{ ipBlock: { cidr: `${B_IP}/32` } }], ports: [{ port: 9090, protocol: 'TCP' }] }]);
  // upstream's YAML layout: keys sorted, list items at their key's indentation, creationTimestamp null
  assert.match(out, /^apiVersion: networking\.k8s\.io\/v1\nkind: NetworkPolicy\nmetadata:\n {2}creationTimestamp: null\n/);
  assert.match(out, /\n {2}egress:\n {2}- ports:\n/);
});

test('--policy-format cilium: a CiliumNetworkPolicy with CIDR rules and ports', async () => {
  const out = await advise(['--policy-format', 'cilium']);
  const docs = parseAllDocuments(out).map((d) => d.toJS() as Record<string, any>);
  assert.equal(docs.length, 1, out);
  const p = docs[0]!;
  assert.equal(p['apiVersion'], 'cilium.io/v2');
  assert.equal(p['kind'], 'CiliumNetworkPolicy');
  assert.deepEqual(p['spec'].endpointSelector, { matchLabels: {} });
  // one egress rule per peer with all its ports
  assert.deepEqual(p['spec'].egress, [{ toCIDR: [`${B_IP}/32`], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }, { port: '8080', protocol: 'TCP' }] }] }]);
  assert.deepEqual(p['spec'].ingress, [{ fromCIDR: [`${B_IP}/32`], toPorts: [{ ports: [{ port: '9090', protocol: 'TCP' }] }] }]);
});
