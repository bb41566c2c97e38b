// snapshot_socket: sockets the test opens on loopback (a TCP listener, an established connection, a bound UDP
// socket) are in the snapshot with their endpoints, state, inode and network namespace.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runIgSync } from '../../../test/harness/ig.js';
import { LineChild } from '../../../test/harness/activity.js';
import { ownNetns } from '../../../test/harness/workload.js';
import { ProgTap, waitUnloaded } from '../../../test/harness/owned-progs.js';

interface Ep { addr: string; port: number; proto: string; version: number }
interface Sock { src: Ep; dst: Ep; state: string; state_raw: number; ino: number; netns_id: number }

// A child holding: a TCP listener, one connection to it (both ends), a UDP socket bound on 127.0.0.1.
const HOLDER = `
const net = require('net'), dgram = require('dgram');
const srv = net.createServer(() => {});
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => {
    const u = dgram.createSocket('udp4');
    u.bind(0, '127.0.0.1', () => console.log(['ports', srv.address().port, c.localPort, u.address().port].join(' ')));
  });
});
`;
const holder = new LineChild(process.execPath, ['-e', HOLDER]);
const tap = new ProgTap();
after(() => { holder.kill(); tap.cleanup(); });

async function ports(): Promise<{ listen: number; client: number; udp: number }> {
  const [, l, c, u] = (await holder.waitLine(/^ports /)).split(' ').map(Number);
  return { listen: l!, client: c!, udp: u! };
}

test('the listener, both ends of the connection and the UDP socket, with state and netns', async () => {
  const p = await ports();
  const r = runIgSync(['run', 'snapshot_socket', '-o', 'json'], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one snapshot, then the gadget ends');
  const socks = JSON.parse(lines[0]!) as Sock[];
  const netns = ownNetns();

  const listener = socks.find((s) => s.src.port === p.listen && s.state === 'LISTEN');
  assert.ok(listener, `listener on ${p.listen}: ${JSON.stringify(socks.slice(0, 3))}`);
  assert.equal(listener!.src.addr, '127.0.0.1');
  assert.equal(listener!.src.proto, 'TCP');
  assert.equal(listener!.dst.port, 0);
  assert.ok(listener!.ino > 0, 'full sockets have an inode');
  assert.equal(listener!.netns_id, netns);

  const client = socks.find((s) => s.src.port === p.client && s.dst.port === p.listen);
  const server = socks.find((s) => s.src.port === p.listen && s.dst.port === p.client);
  assert.equal(client?.state, 'ESTABLISHED');
  assert.equal(server?.state, 'ESTABLISHED');
  assert.equal(client!.dst.addr, '127.0.0.1');

  const udp = socks.find((s) => s.src.port === p.udp && s.src.proto === 'UDP');
  assert.ok(udp, 'bound UDP socket');
  assert.equal(udp!.src.addr, '127.0.0.1');
  assert.equal(udp!.state, 'CLOSE');
});

test('columns show protocol, endpoints and state', async () => {
  const p = await ports();
  const r = runIgSync(['run', 'snapshot_socket', '--fields', 'src.proto,src,dst,state'], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^PROTO\s+SRC\s+DST\s+STATE$/);
  assert.ok(lines.some((l) => new RegExp(`^TCP\\s+127\\.0\\.0\\.1:${p.listen}\\s+0\\.0\\.0\\.0:0\\s+LISTEN$`).test(l)), r.stdout);
  assert.ok(lines.some((l) => new RegExp(`^UDP\\s+127\\.0\\.0\\.1:${p.udp}\\s+0\\.0\\.0\\.0:0\\s+CLOSE$`).test(l)), r.stdout);
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
