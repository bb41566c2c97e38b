/**
 * Socket enricher (src/operators/socketenricher): the user-space socket table built from /proc, with real
 * TCP/UDP sockets in the host network namespace and in a namespace this test creates (`ip netns add`, deleted
 * at the end); the socket.* fields it adds to data sources without a process struct; and, end to end, the
 * `gadget_sockets` BPF map it hands to gadgets that declare it: `ig run trace_tcpdrop` reports a drop on a
 * socket in the test namespace with the owning process filled in by the kernel program from that map.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { Batch, DataSource, FieldFlag, Kind } from '../../src/datasource/index.js';
import { AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SocketTable, parseProcNet } from '../../src/operators/socketenricher/table.js';
import { SocketResolver, addSocketFields, socketTarget } from '../../src/operators/socketenricher/operator.js';
import { IgProcess } from '../harness/ig.js';
import { bpfObjectsOf } from './helpers.js';
import { waitFor } from '../containers/proc-util.js';

const isRoot = process.getuid?.() === 0;
const hasIp = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
const hasPython = spawnSync('python3', ['-c', 'import ctypes'], { stdio: 'ignore' }).status === 0;

const nsOf = (pid: number | 'self') => Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/net`))![1]);
const HOST_NS = nsOf('self');
const comm = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Wait for a line on a child's stdout. */
function readyLine(c: ChildProcess, what = 'ready'): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes(what)) resolve(); });
    c.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    c.once('exit', (code) => reject(new Error(`child exited (${code}) before "${what}": ${err}`)));
  });
}

async function killChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

describe('socket enricher', { skip: isRoot && hasIp ? false : 'needs root and iproute2' }, () => {
  const ns = `igse-${randomBytes(3).toString('hex')}`;
  let nsIno = 0;
  let inNs: ChildProcess | undefined;
  const tcpPort = 20000 + Math.floor(Math.random() * 20000);
  const udpPort = tcpPort + 1;
  const children: ChildProcess[] = [];

  before(async () => {
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0, 'ip netns add');
    spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    // a TCP listener and a bound UDP socket inside the namespace, owned by a node process there
    inNs = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `
      const net = require('net'), dgram = require('dgram');
      net.createServer().listen(${tcpPort}, '127.0.0.1', () => {
        dgram.createSocket('udp4').bind(${udpPort}, '127.0.0.1', () => console.log('ready'));
      });
      process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(inNs);
    await readyLine(inNs);
    nsIno = nsOf(inNs.pid!);
    assert.notEqual(nsIno, HOST_NS);
  });

  after(async () => {
    for (const c of children) await killChild(c);
    spawnSync('ip', ['netns', 'del', ns]);
    assert.ok(!spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(ns), 'test netns deleted');
  });

  test('parseProcNet reads local ports, inodes, uids and states', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:AF94 0100007F:ADD3 06 00000000:00000000 03:00000B0A 00000000     0        0 0 3 0000000000000000',
    ].join('\n');
    assert.deepEqual(parseProcNet(text, 7, AF_INET, IPPROTO_TCP), [{ netns: 7, family: AF_INET, proto: IPPROTO_TCP, port: 8080, inode: 4242, uid: 1000, state: 10 }]);
  });

  test('sockets in the test netns and in the host netns, each with its owner', async () => {
    const host = net.createServer();
    // the same port number in the host namespace must not be confused with the namespace's socket
    const hostPort = await listen(host, tcpPort, '127.0.0.1').catch(() => listen(host, 0, '127.0.0.1'));
    try {
      const t = new SocketTable();
      t.scan();
      const inside = t.lookup(nsIno, IPPROTO_TCP, tcpPort, 4);
      assert.equal(inside?.owner?.pid, inNs!.pid);
      assert.equal(inside?.owner?.comm, comm(inNs!.pid!));
      assert.equal(inside?.state, 10);
      assert.equal(inside?.uid, 0);
      assert.equal(inside?.owner?.mntns, BigInt(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${inNs!.pid}/ns/mnt`))![1]!));
      const udp = t.lookup(nsIno, IPPROTO_UDP, udpPort, 4);
      assert.equal(udp?.owner?.pid, inNs!.pid);
      assert.equal(udp?.proto, IPPROTO_UDP);
      const mine = t.lookup(HOST_NS, IPPROTO_TCP, hostPort, 4);
      assert.equal(mine?.owner?.pid, process.pid);
      assert.equal(mine?.owner?.comm, comm(process.pid));
      assert.equal(mine?.owner?.ppid, process.ppid);
      // nothing on the namespace's TCP port as UDP, nor on a port nobody uses
      assert.equal(t.lookup(nsIno, IPPROTO_UDP, tcpPort, 4), undefined);
      // walking every process's fds happens only when unknown sockets appear
      const walks = t.fdScans;
      t.scan();
      assert.equal(t.fdScans, walks);
    } finally {
      host.close();
    }
  });

  test('IPv6, and an IPv4 lookup that falls back to a dual-stack IPv6 socket', async () => {
    const v6only = net.createServer();
    const dual = net.createServer();
    const p6 = await listen(v6only, 0, '::1');
    const pd = await listen(dual, 0, '::');
    try {
      const t = new SocketTable();
      t.scan();
      assert.equal(t.lookup(HOST_NS, IPPROTO_TCP, p6, 6)?.family, AF_INET6);
      assert.equal(t.lookup(HOST_NS, IPPROTO_TCP, p6, 6)?.owner?.pid, process.pid);
      assert.equal(t.lookup(HOST_NS, IPPROTO_TCP, pd, 4)?.family, AF_INET6);
      assert.equal(t.lookup(HOST_NS, IPPROTO_TCP, pd, 4)?.owner?.pid, process.pid);
    } finally {
      v6only.close();
      dual.close();
    }
  });

  test('a lookup that misses rescans its namespace at once; a closed socket answers for the grace period', async () => {
    let now = 1_000_000;
    const t = new SocketTable({ now: () => now, graceMs: 2000 });
    const r = new SocketResolver(t, () => now);
    t.scan();
    const s = dgram.createSocket('udp4');
    let closed = false;
    const close = () => new Promise<void>((res) => { if (closed) res(); else { closed = true; s.close(() => res()); } });
    try {
      const port = await new Promise<number>((res) => s.bind(0, '127.0.0.1', () => res(s.address().port)));
      now += 500;
      const e = r.lookup(HOST_NS, IPPROTO_UDP, port, 4);
      assert.equal(e?.owner?.pid, process.pid, 'found by the on-demand rescan');
      // misses are rate-limited: more misses right after do not rescan, one later does
      const scans = t.scans;
      assert.equal(r.lookup(HOST_NS, IPPROTO_UDP, 1, 4), undefined);
      assert.equal(r.lookup(HOST_NS, IPPROTO_UDP, 2, 4), undefined);
      assert.equal(t.scans, scans);
      now += 300;
      assert.equal(r.lookup(HOST_NS, IPPROTO_UDP, 2, 4), undefined);
      assert.equal(t.scans, scans + 1);
      assert.deepEqual(r.recentNetns(), [HOST_NS]);
      await close();
      now += 500;
      t.scan([HOST_NS]);
      const gone = t.lookup(HOST_NS, IPPROTO_UDP, port, 4);
      assert.equal(gone?.owner?.pid, process.pid, 'still answers right after it closed');
      assert.ok(gone?.goneAt);
      now += 2500;
      t.scan([HOST_NS]);
      assert.equal(t.lookup(HOST_NS, IPPROTO_UDP, port, 4), undefined);
    } finally {
      await close();
    }
  });

  test('socket.pid/comm/uid on a data source with a netns id and an l4 endpoint but no process struct', () => {
    const ds = new DataSource('sockets', 'single');
    ds.staticSize = 32;
    const src = ds.addField({ name: 'src', kind: Kind.Bytes, flags: FieldFlag.StaticMember, tags: ['type:gadget_l4endpoint_t'], storage: { type: 'static', offs: 0, size: 24 } });
    ds.addField({ name: 'port', parent: src, kind: Kind.Uint16, storage: { type: 'static', offs: 16, size: 2 } });
    ds.addField({ name: 'proto_raw', parent: src, kind: Kind.Uint16, storage: { type: 'static', offs: 18, size: 2 } });
    ds.addField({ name: 'version', parent: src, kind: Kind.Uint8, storage: { type: 'static', offs: 20, size: 1 } });
    ds.addField({ name: 'netns_id', kind: Kind.Uint32, tags: ['type:gadget_netns_id'], storage: { type: 'static', offs: 24, size: 4 } });
    const target = socketTarget(ds);
    assert.ok(target);
    const t = new SocketTable();
    assert.equal(addSocketFields(target, new SocketResolver(t)), true);
    assert.equal(addSocketFields(target, new SocketResolver(t)), false, 'only once');
    for (const n of ['socket.pid', 'socket.comm', 'socket.uid']) assert.equal(ds.getField(n)?.hidden, true, n);
    const b = Batch.empty(ds, 3);
    const rec = (i: number, netns: number, proto: number, port: number) => {
      const o = i * 32;
      b.buf.writeUInt16LE(port, o + 16);
      b.buf.writeUInt16LE(proto, o + 18);
      b.buf.writeUInt8(4, o + 20);
      b.buf.writeUInt32LE(netns, o + 24);
    };
    rec(0, nsIno, IPPROTO_TCP, tcpPort);
    rec(1, nsIno, IPPROTO_UDP, udpPort);
    rec(2, nsIno, IPPROTO_TCP, 9); // nobody
    const pid = ds.getField('socket.pid')!;
    const cm = ds.getField('socket.comm')!;
    const uid = ds.getField('socket.uid')!;
    assert.equal(pid.get(b, 0), inNs!.pid);
    assert.equal(cm.get(b, 0), comm(inNs!.pid!));
    assert.equal(uid.get(b, 0), 0);
    assert.equal(pid.get(b, 1), inNs!.pid);
    assert.equal(pid.get(b, 2), 0);
    assert.equal(cm.get(b, 2), '');

    // a data source that has a process struct is left alone
    const withProc = new DataSource('x', 'single');
    withProc.addField({ name: 'proc', kind: Kind.Bytes, tags: ['type:gadget_process'], storage: { type: 'static', offs: 0, size: 8 } });
    withProc.addField({ name: 'netns_id', kind: Kind.Uint32, tags: ['type:gadget_netns_id'], storage: { type: 'static', offs: 8, size: 4 } });
    withProc.addField({ name: 'src', kind: Kind.Bytes, tags: ['type:gadget_l4endpoint_t'], storage: { type: 'static', offs: 12, size: 24 } });
    assert.equal(socketTarget(withProc), undefined);
  });

  test('trace_tcpdrop: the kernel finds the owner of a socket in the test netns in the gadget_sockets map', { skip: hasPython ? false : 'needs python3 (SO_ATTACH_FILTER)' }, async () => {
    const port = tcpPort + 2;
    // A listener whose classic socket filter rejects every packet: each SYN sent to it is dropped with
    // reason SOCKET_FILTER, on the listener socket, which the gadget then looks up in gadget_sockets.
    const script = [
      'import socket, struct, ctypes, sys',
      's = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
      `s.bind(("127.0.0.1", ${port})); s.listen(8)`,
      'code = struct.pack("HBBI", 0x06, 0, 0, 0)  # BPF_RET|BPF_K 0: drop',
      'buf = ctypes.create_string_buffer(code, len(code))',
      's.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", 1, ctypes.addressof(buf)))  # SO_ATTACH_FILTER',
      'print("ready", flush=True)',
      'sys.stdin.read()',
    ].join('\n');
    const listener = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(listener);
    await readyLine(listener);
    const owner = listener.pid!;
    await waitFor('listener exec', () => nsOf(owner) === nsIno && comm(owner).startsWith('python'));
    // a client in the namespace that keeps connecting
    const client = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e',
      `setInterval(() => { const s = require('net').connect(${port}, '127.0.0.1'); s.on('error', () => {}); setTimeout(() => s.destroy(), 150); }, 200)`], { stdio: 'ignore' });
    children.push(client);

    // trace_tcpdrop names the owner with upstream's flat fields
    type Drop = { netns_id: number; reason: string; src: { port: number }; pid: number; comm: string; tid: number; mount_ns_id: number };
    const ig = new IgProcess(['run', 'trace_tcpdrop', '--host', '-o', 'json']);
    try {
      const e = await ig.waitFor<Drop>((x) => x.netns_id === nsIno && x.src.port === port, () => undefined, { timeoutMs: 30_000 });
      assert.equal(e.reason, 'SKB_DROP_REASON_SOCKET_FILTER');
      assert.equal(e.pid, owner);
      assert.equal(e.tid, owner);
      assert.equal(e.comm, comm(owner));
      assert.equal(BigInt(e.mount_ns_id), BigInt(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${owner}/ns/mnt`))![1]!));
      // the map ig handed the program: a hash with the gadget's 12-byte key
      const maps = bpfObjectsOf(ig.pid).maps.filter((m) => m.type === 1 && m.keySize === 12);
      assert.equal(new Set(maps.map((m) => m.id)).size, 1, 'one gadget_sockets map, ours, used by the program');
    } finally {
      const r = await ig.stop();
      assert.equal(r.code, 0, r.stderr);
      await killChild(client);
      await killChild(listener);
    }
  });
});
