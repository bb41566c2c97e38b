// trace_dns: a tiny UDP DNS responder on 127.0.0.1:53 and a client, both in a network namespace made by the
// test; ig runs in that namespace too, so its socket filter (behind the per-netns dispatcher) sees the
// exchange there. The kernel side sends endpoints, owner, latency and the packet's bytes; the gadget's WASM
// module (program.c) decodes the DNS message into upstream's fields: id, qr, qtype, name, rcode, answers.
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
  id: string; qr: string; qr_raw: boolean; rcode: string; rcode_raw: number; qtype: string; qtype_raw: number;
  tc: boolean; ra: boolean; rd: boolean;
  num_questions: number; num_answers: number; name: string; addresses: string;
}

// Responder on 127.0.0.1:53 (flags 0x8180: response, RD, RA). Names starting with "nx-" get NXDomain (no
// answers); an AAAA query gets 2001:db8::7 and ::ffff:10.1.2.3; other types get A 127.0.0.7, plus A 127.0.0.8
// for names starting with "two-". Answers point at the question's name (compression pointer 0xc00c). The
// client socket (bound before ig starts, so the socket enricher knows it) sends "q <id> <name> <qtype>"
// queries (flags 0x0100: RD) from stdin.
const HELPER = `
const dgram = require('dgram');
const srv = dgram.createSocket('udp4');
const cli = dgram.createSocket('udp4');
const rr = (type, data) => Buffer.concat([Buffer.from([0xc0, 0x0c, type >> 8, type & 255, 0, 1, 0, 0, 0, 60, 0, data.length]), Buffer.from(data)]);
srv.on('message', (m, r) => {
  const label = m.subarray(13, 13 + m[12]).toString();
  const nx = label.startsWith('nx-');
  let end = 12;
  while (m[end] !== 0) end += m[end] + 1;
  const qtype = m.readUInt16BE(end + 1);
  const ans = [];
  if (!nx && qtype === 28) {
    ans.push(rr(28, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]));
    ans.push(rr(28, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]));
  } else if (!nx) {
    ans.push(rr(1, [127, 0, 0, 7]));
    if (label.startsWith('two-')) ans.push(rr(1, [127, 0, 0, 8]));
  }
  const h = Buffer.from(m.subarray(0, 12));
  h.writeUInt16BE(0x8180 | (nx ? 3 : 0), 2);
  h.writeUInt16BE(ans.length, 6);
  srv.send(Buffer.concat([h, m.subarray(12, end + 5), ...ans]), r.port, r.address);
});
cli.on('message', (m) => console.log('r ' + m.readUInt16BE(0) + ' ' + (m.readUInt16BE(2) & 15)));
srv.bind(53, '127.0.0.1', () => cli.bind(0, '127.0.0.1', () => console.log('ready ' + cli.address().port)));
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const [, id, name, qtype] = l.split(' ');
  const q = [Buffer.from([+id >> 8, +id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.').filter(Boolean)) q.push(Buffer.from([label.length]), Buffer.from(label));
  q.push(Buffer.from([0, +qtype >> 8, +qtype & 255, 0, 1]));
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

const hexId = (id: number) => id.toString(16).padStart(4, '0');

test('queries and responses in a test netns: header, name, type, rcode, answers, latency, endpoints, owner', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json'], undefined, { prefix: netns.prefix });
  const name = `two-${process.pid}.example.com`;
  try {
    // The response as received by the client carries the latency.
    const resp = await ig.waitFor<DnsEvent>((e) => e.name === `${name}.` && e.qr === 'R' && e.pkt_type === 'HOST', () => query(name, 1));
    await ig.stop();
    const evs = ig.events<DnsEvent>().filter((e) => e.id === resp.id);
    const q = evs.find((e) => e.qr === 'Q' && e.pkt_type === 'OUTGOING')!;
    assert.ok(q, JSON.stringify(evs));
    assert.match(resp.id, /^[0-9a-f]{4}$/, 'upstream prints the id as %.4x');

    const ep = (port: number) => ({ addr: '127.0.0.1', port, proto: 'UDP', version: 4 });
    assert.deepEqual({ src: q.src, dst: q.dst }, { src: ep(clientPort), dst: ep(53) });
    assert.deepEqual(q.nameserver, { addr: '127.0.0.1', version: 4 });
    assert.equal(q.name, `${name}.`);
    assert.equal(q.qtype, 'A');
    assert.equal(q.qtype_raw, 1);
    assert.equal(q.qr_raw, false);
    assert.deepEqual([q.rd, q.ra, q.tc], [true, false, false]);
    assert.equal(q.rcode, '', 'queries have no rcode');
    assert.equal(q.num_questions, 1);
    assert.equal(q.num_answers, 0);
    assert.equal(q.addresses, '', 'queries have no answers');
    assert.equal(q.latency_ns_raw, 0);

    assert.deepEqual({ src: resp.src, dst: resp.dst }, { src: ep(53), dst: ep(clientPort) });
    assert.deepEqual(resp.nameserver, { addr: '127.0.0.1', version: 4 });
    assert.equal(resp.qr_raw, true);
    assert.equal(resp.rcode, 'Success');
    assert.equal(resp.rcode_raw, 0);
    assert.deepEqual([resp.rd, resp.ra, resp.tc], [true, true, false]);
    assert.equal(resp.qtype, 'A');
    assert.equal(resp.num_answers, 2);
    assert.equal(resp.addresses, '127.0.0.7,127.0.0.8');
    assert.ok(resp.latency_ns_raw > 0 && resp.latency_ns_raw < 5e9, String(resp.latency_ns_raw));
    assert.match(resp.latency_ns, /^[\d.]+(ns|µs|ms|s)$/);
    assert.ok(resp.timestamp >= q.timestamp);

    // The namespace inode comes from the dispatcher, not the host's.
    for (const e of evs) assert.equal(e.netns_id, netns.inode);
    // The socket enricher names the helper as the owner of both sockets.
    for (const e of evs) assert.equal(e.proc.pid, helper.pid, JSON.stringify(e));
    assert.equal(resp.proc.comm, 'node');
    // The packet itself is for the module only (json.skip, as upstream).
    assert.ok(!('data' in resp) && !('data_len' in resp) && !('dns_off' in resp), Object.keys(resp).join(','));
  } finally {
    await ig.stop();
  }
});

test('several query types: names and numbers as upstream prints them, AAAA answers as IPv6 text', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json'], undefined, { prefix: netns.prefix });
  // type number -> upstream's name (types its module does not name print as the number)
  const types: [number, string][] = [[1, 'A'], [28, 'AAAA'], [15, 'MX'], [16, 'TXT'], [2, 'NS'], [12, 'PTR'], [255, 'ALL'], [65, '65']];
  const want = new Map(types.map(([t, n]) => [`t${t}-${process.pid}.example.com.`, { t, n }]));
  try {
    const seen = new Map<string, DnsEvent>();
    await ig.waitFor<DnsEvent>((e) => {
      if (want.has(e.name) && e.qr === 'R' && e.pkt_type === 'HOST') seen.set(e.name, e);
      return seen.size === want.size;
    }, () => { for (const [t] of types) if (!seen.has(`t${t}-${process.pid}.example.com.`)) query(`t${t}-${process.pid}.example.com`, t); });
    for (const [name, { t, n }] of want) {
      const e = seen.get(name)!;
      assert.equal(e.qtype_raw, t, name);
      assert.equal(e.qtype, n, name);
      assert.equal(e.rcode, 'Success');
    }
    const aaaa = seen.get(`t28-${process.pid}.example.com.`)!;
    assert.equal(aaaa.num_answers, 2);
    assert.equal(aaaa.addresses, '2001:db8::7,10.1.2.3', 'Go net.IP text: RFC 5952, IPv4-mapped as a dotted quad');
    assert.equal(seen.get(`t15-${process.pid}.example.com.`)!.addresses, '127.0.0.7');
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

test('an NXDOMAIN response to an AAAA query: rcode NameError (3), no answers', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'json'], undefined, { prefix: netns.prefix });
  const name = `nx-${process.pid}.example.org`;
  try {
    const ids: string[] = [];
    const resp = await ig.waitFor<DnsEvent>((e) => e.name === `${name}.` && e.qr === 'R' && e.pkt_type === 'HOST', () => { ids.push(hexId(query(name, 28))); });
    assert.equal(resp.rcode, 'NameError');
    assert.equal(resp.rcode_raw, 3);
    assert.equal(resp.qtype, 'AAAA');
    assert.equal(resp.num_answers, 0);
    assert.equal(resp.addresses, '');
    assert.ok(resp.latency_ns_raw > 0);
    assert.ok(ids.includes(resp.id), `id ${resp.id} is one of the queries' (${ids.join(',')}), as %.4x`);
  } finally {
    await ig.stop();
  }
});

test('columns: upstream order, SRC DST COMM ... QR QTYPE NAME RCODE ADDRESSES', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host'], undefined, { prefix: netns.prefix });
  const name = `cols-${process.pid}.example.net`;
  const { header, row } = await columnsOf(ig, new RegExp(`${name.replace(/\./g, '\\.')}\\.\\s+Success`), () => query(name, 1));
  assert.match(header, /SRC\s+DST\s+COMM\s+PID\s+TID\s+UID\s+GID\s+LATENCY_NS\s+QR\s+QTYPE\s+NAME\s+RCODE\s+ADDRESSES/);
  assert.match(row, /127\.0\.0\.1:53\s/);
  assert.match(row, /\sR\s+A\s+cols-\d+\.example\.net\.\s+Success\s+127\.0\.0\.7/);
});

test('data is the packet: exactly data_len bytes, the DNS id at dns_off, after long and short packets', async () => {
  const ig = new IgProcess(['run', 'trace_dns', '--host', '-o', 'columns', '--fields', 'data_len,dns_off,data'], undefined, { prefix: netns.prefix });
  const long = `${'l'.repeat(60)}.${'o'.repeat(60)}.${'n'.repeat(60)}.g${process.pid}.example.net`;
  let sent = 0;
  // data shows as hex. Wait for a short packet (data_len < 100) after long ones went through the same per-CPU
  // scratch record.
  const { stdout } = await columnsOf(ig, /^\s*\d\d\s+\d+\s+[0-9a-f]+\s*$/, () => { if (sent++ < 40) { query(long, 1); query('s.e', 1); } });
  const rows = stdout.split('\n').slice(1).map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+([0-9a-f]+)$/)).filter((m) => m !== null);
  assert.ok(rows.some((m) => Number(m![1]) > 200) && rows.some((m) => Number(m![1]) < 100), stdout.slice(0, 300));
  for (const m of rows) {
    const bytes = [...Buffer.from(m![3]!, 'hex')];
    assert.equal(bytes.length, Number(m![1]), 'data holds the packet, nothing more');
    const off = Number(m![2]);
    const id = bytes[off]! << 8 | bytes[off + 1]!;
    assert.ok(id >= 0x1200 && id < nextId, `DNS id ${id} at dns_off ${off}`);
  }
});
