// Event-driven socket enrichment: a one-shot DNS client (a python3 process that creates a UDP socket, sends one
// query without bind or connect, reads the answer and exits) started while trace_dns runs. Its socket did not
// exist at any /proc scan before the query left, so the owner of the query packet can only come from the socket
// tracker (src/operators/socketenricher/bpf/socket_tracker.bpf.c), which records the socket when the datagram is
// queued to the device, before the packet socket taps it. Everything runs in a network namespace of the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { LineChild, TestNetns } from '../harness/activity.js';

interface DnsEvent { name: string; qr: string; pkt_type: string; proc: { comm: string; pid: number; tid: number; parent: { pid: number } } }

const hasPython = spawnSync('python3', ['-c', 'pass'], { stdio: 'ignore' }).status === 0;

// answers every query with its own question (flags 0x8180)
const RESPONDER = `
const srv = require('dgram').createSocket('udp4');
srv.on('message', (m, r) => { const h = Buffer.from(m); h.writeUInt16BE(0x8180, 2); srv.send(h, r.port, r.address); });
srv.bind(53, '127.0.0.1', () => console.log('ready'));`;

// one query from a fresh socket; prints the answer's id and exits
const ONE_SHOT = `
import socket, struct, sys
name = sys.argv[1]
q = struct.pack('>HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, ('127.0.0.1', 53))
print(struct.unpack('>H', s.recv(512)[:2])[0])`;

let netns: TestNetns;
let responder: LineChild;

before(async () => {
  if (!hasPython) return;
  netns = new TestNetns('sockt');
  responder = new LineChild(netns.prefix[0]!, [...netns.prefix.slice(1), process.execPath, '-e', RESPONDER]);
  await responder.waitLine(/^ready/);
});

after(async () => {
  await responder?.kill();
  netns?.del();
});

test('the first datagram of a one-shot UDP client carries its process', { skip: hasPython ? false : 'needs python3' }, async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json'], undefined, { prefix: netns.prefix });
  const clients = new Map<number, string>();
  let n = 0;
  const oneShot = () => {
    const name = `oneshot-${process.pid}-${n++}.test`;
    const c = spawn(netns.prefix[0]!, [...netns.prefix.slice(1), 'python3', '-c', ONE_SHOT, name], { stdio: 'ignore' });
    clients.set(c.pid!, name);
  };
  try {
    // the client starts after ig is running: wait for a query whose client we started, then check its owner
    const q = await ig.waitFor<DnsEvent>((e) => e.qr === 'Q' && e.pkt_type === 'OUTGOING' && [...clients.values()].includes(e.name.replace(/\.$/, '')), oneShot, { timeoutMs: 60000, everyMs: 700 });
    await ig.stop();
    const name = q.name.replace(/\.$/, '');
    // nsenter execs python3: the client's pid is the spawned child's pid
    const pid = [...clients].find(([, v]) => v === name)![0];
    assert.equal(q.proc.pid, pid, JSON.stringify(q));
    assert.equal(q.proc.comm, 'python3');
    assert.equal(q.proc.parent.pid, process.pid);
    // its answer, delivered to the same short-lived socket, too
    const r = ig.events<DnsEvent>().find((e) => e.name === q.name && e.qr === 'R' && e.pkt_type === 'HOST');
    assert.ok(r, 'the response was seen');
    assert.equal(r.proc.pid, pid);
  } finally {
    await ig.stop();
  }
});
