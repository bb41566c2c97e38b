// trace_dns: a tiny UDP DNS responder on 127.0.0.1:53 and a client, both in a network namespace made by the
// test; ig runs in that namespace too, so its socket filter (behind the per-netns dispatcher) sees the
// exchange there. Queries and responses: name, type, rcode, id, endpoints, latency, netns and owner process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IgProcess } from '../../../test/harness/ig.js';
import { bpfProgIds, columnsOf, leakedPrograms, LineChild, TestNetns } from '../../../test/harness/activity.js';

interface Endpoint { addr: string; port: number; proto: string; version: number }
interface DnsEvent {
  timestamp: string; netns_id: number;
  proc: { comm: string; pid: number };
  src: Endpoint; dst: Endpoint; nameserver: { addr: string; version: number };
  pkt_type: string; latency_ns_raw: number; latency_ns: string;
  id: number; qr: string; qr_raw: number; rcode: string; rcode_raw: number; qtype: string; qtype_raw: number;
  num_questions: number; num_answers: number; name: string; addresses?: string;
}

// Responder on 127.0.0.1:53: names starting with "nx-" get NXDomain, others one A record. The client socket
// (bound before ig starts, so the socket enricher knows it) sends "q <id> <name> <qtype>" queries from stdin.
const HELPER = `
const dgram = require('dgram');
const srv = dgram.createSocket('udp4');
const cli = dgram.createSocket('udp4');
srv.on('message', (m, r) => {
  const nx = m.subarray(13, 13 + m[12]).toString().startsWith('nx-');
  const h = Buffer.from(m.subarray(0, 12));
  h.writeUInt16BE(0x8180 | (nx ? 3 : 0), 2);
  h.writeUInt16BE(nx ? 0 : 1, 6);
  const ans = nx ? Buffer.alloc(0) : Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 7]);
  srv.send(Buffer.concat([h, m.subarray(12), ans]), r.port, r.address);
});
cli.on('message', (m) => console.log('r ' + m.readUInt16BE(0) + ' ' + (m.readUInt16BE(2) & 15)));
srv.bind(53, '127.0.0.1', () => cli.bind(0, '127.0.0.1', () => console.log('ready ' + cli.address().port)));
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const [, id, name, qtype] = l.split(' ');
  const q = [Buffer.from([+id >> 8, +id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.').filter(Boolean)) q.push(Buffer.from([label.length]), Buffer.from(label));
  q.push(Buffer.from([0, 0, +qtype, 0, 1]));
  cli.send(Buffer.concat(q), 53, '127.0.0.1');
});`;

let netns: TestNetns;
let helper: LineChild;
let clientPort = 0;

const PROGS = ['ig_trace_dns', 'ig_netns_disp'];
let progsBefore = new Set<number>();

before(async () => {
  progsBefore = bpfProgIds(PROGS);
  netns = new TestNetns('dns');
  helper = new LineChild(netns.prefix[0]!, [...netns.prefix.slice(1), process.execPath, '-e', HELPER]);
  clientPort = Number((await helper.waitLine(/^ready /)).split(' ')[1]);
});

after(async () => {
  await helper?.kill();
  netns?.del();
  // ig stopped: neither the gadget nor its per-netns dispatchers stay loaded (programs of other ig runs on
  // this machine, loaded before these tests, are not ours).
  assert.deepEqual(await leakedPrograms(PROGS, progsBefore), []);
});

let nextId = 0x1200;
function query(name: string, qtype: number): number {
  const id = nextId++;
  helper.send(`q ${id} ${name} ${qtype}`);
  return id;
}

test('queries and responses in a test netns: name, type, rcode, latency, endpoints, owner', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json'], undefined, { prefix: netns.prefix });
  const name = `ig-${process.pid}.example.com`;
  try {
    // The response as received by the client carries the latency.
    const resp = await ig.waitFor<DnsEvent>((e) => e.name === `${name}.` && e.qr === 'R' && e.pkt_type === 'HOST', () => query(name, 1));
    await ig.stop();
    const evs = ig.events<DnsEvent>().filter((e) => e.id === resp.id);
    const q = evs.find((e) => e.qr === 'Q' && e.pkt_type === 'OUTGOING')!;
    assert.ok(q, JSON.stringify(evs));

    const ep = (port: number) => ({ addr: '127.0.0.1', port, proto: 'UDP', version: 4 });
    assert.deepEqual({ src: q.src, dst: q.dst }, { src: ep(clientPort), dst: ep(53) });
    assert.deepEqual(q.nameserver, { addr: '127.0.0.1', version: 4 });
    assert.equal(q.name, `${name}.`);
    assert.equal(q.qtype, 'A');
    assert.equal(q.qtype_raw, 1);
    assert.equal(q.qr_raw, 0);
    assert.equal(q.num_questions, 1);
    assert.equal(q.latency_ns_raw, 0);

    assert.deepEqual({ src: resp.src, dst: resp.dst }, { src: ep(53), dst: ep(clientPort) });
    assert.deepEqual(resp.nameserver, { addr: '127.0.0.1', version: 4 });
    assert.equal(resp.rcode, 'NoError');
    assert.equal(resp.qtype, 'A');
    assert.equal(resp.num_answers, 1);
    // The answer section, decoded by the gadget's WASM module (program.c) from the packet bytes.
    assert.equal(resp.addresses, '127.0.0.7');
    assert.ok(!q.addresses, 'queries have no answers');
    assert.ok(resp.latency_ns_raw > 0 && resp.latency_ns_raw < 5e9, String(resp.latency_ns_raw));
    assert.match(resp.latency_ns, /^[\d.]+(ns|µs|ms|s)$/);
    assert.ok(resp.timestamp >= q.timestamp);

    // The namespace inode comes from the dispatcher, not the host's.
    for (const e of evs) assert.equal(e.netns_id, netns.inode);
    // The socket enricher names the helper as the owner of both sockets.
    for (const e of evs) assert.equal(e.proc.pid, helper.pid, JSON.stringify(e));
    assert.equal(resp.proc.comm, 'node');
  } finally {
    await ig.stop();
  }
});

test('--paths: the working directory and executable of the socket owner', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json', '--paths'], undefined, { prefix: netns.prefix });
  const name = `paths-${process.pid}.example.com`;
  try {
    type WithPaths = DnsEvent & { cwd: string; exepath: string };
    const q = await ig.waitFor<WithPaths>((e) => e.name === `${name}.` && e.qr === 'Q', () => query(name, 1));
    const { readlinkSync } = await import('node:fs');
    assert.equal(q.proc.pid, helper.pid);
    assert.equal(q.exepath, readlinkSync(`/proc/${helper.pid}/exe`));
    assert.equal(q.cwd, readlinkSync(`/proc/${helper.pid}/cwd`));
  } finally {
    await ig.stop();
  }
  // without --paths both stay empty
  const plain = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json'], undefined, { prefix: netns.prefix });
  const name2 = `nopaths-${process.pid}.example.com`;
  try {
    type WithPaths = DnsEvent & { cwd: string; exepath: string };
    const q = await plain.waitFor<WithPaths>((e) => e.name === `${name2}.` && e.qr === 'Q', () => query(name2, 1));
    assert.deepEqual([q.cwd, q.exepath], ['', '']);
  } finally {
    await plain.stop();
  }
});

test('an NXDomain response to an AAAA query', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json'], undefined, { prefix: netns.prefix });
  const name = `nx-${process.pid}.example.org`;
  try {
    const resp = await ig.waitFor<DnsEvent>((e) => e.name === `${name}.` && e.qr === 'R' && e.pkt_type === 'HOST', () => query(name, 28));
    assert.equal(resp.rcode, 'NXDomain');
    assert.equal(resp.rcode_raw, 3);
    assert.equal(resp.qtype, 'AAAA');
    assert.equal(resp.num_answers, 0);
    assert.ok(resp.latency_ns_raw > 0);
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID SRC DST LATENCY_NS ID QR RCODE QTYPE NAME', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host'], undefined, { prefix: netns.prefix });
  const name = `cols-${process.pid}.example.net`;
  const { header, row } = await columnsOf(ig, new RegExp(`${name.replace(/\./g, '\\.')}\\.`), () => query(name, 1));
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+SRC\s+DST\s+LATENCY_NS\s+ID\s+QR\s+RCODE\s+QTYPE\s+NAME/);
  assert.match(row, /127\.0\.0\.1:53\s/);
  assert.match(row, /\sNoError\s+A\s/);
});

test('data holds nothing past the packet: after long packets, short ones show zeros beyond data_len', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'columns', '--fields', 'data_len,data'], undefined, { prefix: netns.prefix });
  const long = `${'l'.repeat(60)}.${'o'.repeat(60)}.${'n'.repeat(60)}.g${process.pid}.example.net`;
  let sent = 0;
  // data shows as the 1024 byte values, comma-separated. Wait for a short packet (data_len < 100) after long ones
  // went through the same per-CPU scratch event.
  const { stdout } = await columnsOf(ig, /^\s*\d\d\s+[\d,]+\s*$/, () => { if (sent++ < 40) { query(long, 1); query('s.e', 1); } });
  const rows = stdout.split('\n').slice(1).map((l) => l.trim().match(/^(\d+)\s+([\d,]+)$/)).filter((m) => m !== null);
  assert.ok(rows.some((m) => Number(m![1]) > 200) && rows.some((m) => Number(m![1]) < 100), stdout.slice(0, 300));
  for (const m of rows) {
    const bytes = m![2]!.split(',');
    assert.equal(bytes.length, 1024, 'data is the fixed 1024-byte field');
    const len = Math.min(Number(m![1]), 1024);
    assert.ok(bytes.slice(len).every((b) => b === '0'), `bytes past data_len ${len} are zero`);
    assert.ok(bytes.slice(0, len).some((b) => b !== '0'), 'the packet bytes are there');
  }
});
