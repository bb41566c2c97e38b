// tcpdump on loopback: --pf keeps only the datagrams it names (filtered in the kernel), the payload field holds
// the frame, the sender's process comes from the socket enricher, --snaplen cuts it, -o pcap-ng writes a stream Debian's tcpdump and tshark read back, and a bad
// filter ends the run in one line naming it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, IG_MAIN, runIgSync } from '../../../test/harness/ig.js';

interface PacketEvent { packet_type: number; ifindex: number; payload_len: number; packet_size: number; payload: string; proc: { pid: number; comm: string } }

const dir = mkdtempSync(join(tmpdir(), 'ig-tcpdump-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Ports of our own: nothing else on the machine sends to them. Nobody listens; the datagrams still cross lo.
const PORT = 40000 + (process.pid % 10000);
const OTHER_PORT = PORT + 1;
const sock = createSocket('udp4');
after(() => sock.close());

function send(port: number, text: string): void {
  sock.send(Buffer.from(text), port, '127.0.0.1');
}

/** The UDP payload inside a captured Ethernet/IPv4/UDP frame (hex in JSON). */
function udpOf(frameHex: string): { dport: number; data: string } {
  const f = Buffer.from(frameHex, 'hex');
  const ihl = (f[14]! & 0xf) * 4;
  const udp = 14 + ihl;
  return { dport: f.readUInt16BE(udp + 2), data: f.subarray(udp + 8).toString('latin1') };
}

test('--pf selects packets in the kernel; payload is the frame; both directions on lo', async () => {
  const marker = `ig-tcpdump-${process.pid}`;
  const ig = new IgProcess(['run', 'tcpdump', '--iface', 'lo', '--pf', `udp and dst port ${PORT}`, '-o', 'json']);
  try {
    await ig.waitFor<PacketEvent>((e) => e.packet_type === 1 && udpOf(e.payload).data === marker, () => { send(OTHER_PORT, `${marker}-other`); send(PORT, marker); }, { timeoutMs: 60000, everyMs: 500 });
    await ig.waitFor<PacketEvent>((e) => e.packet_type === 0 && udpOf(e.payload).data === marker, () => send(PORT, marker), { timeoutMs: 20000, everyMs: 500 });
    const res = await ig.stop();
    const evs = ig.events<PacketEvent>();
    assert.ok(evs.length > 0, res.stderr);
    for (const e of evs) {
      // nothing but the filter's packets reached user space
      assert.equal(udpOf(e.payload).dport, PORT, JSON.stringify(e));
      const frameLen = Buffer.from(e.payload, 'hex').length;
      assert.equal(frameLen, e.payload_len);
      assert.equal(e.packet_size, 14 + 20 + 8 + marker.length);
      assert.equal(e.payload_len, e.packet_size);
      assert.equal(e.ifindex, 1);
      // the sending socket is this process's (socket enricher, through the dispatcher's netns in cb[0]);
      // nobody listens on the destination port, so arriving datagrams have no owner
      if (e.packet_type === 0) assert.equal(e.proc.pid, process.pid, JSON.stringify(e.proc));
    }
  } finally {
    await ig.stop();
  }
});

test('-o pcap-ng: tcpdump -r and tshark -r read the packets back, --snaplen cuts them', async () => {
  const file = join(dir, 'capture.pcapng');
  const marker = `pcapng-${process.pid}-`.padEnd(200, 'x');
  const fd = openSync(file, 'w');
  const child = spawn(process.execPath, [IG_MAIN, 'run', 'tcpdump', '--iface', 'lo', '--pf', `udp port ${PORT}`, '--snaplen', '100', '-o', 'pcap-ng'], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const readBack = () => spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' });
  try {
    const deadline = Date.now() + 60000;
    let seen = 0;
    while (Date.now() < deadline && seen < 4) {
      send(PORT, marker);
      await new Promise((r) => setTimeout(r, 500));
      seen = (readBack().stdout.match(new RegExp(`127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.${PORT}: UDP, length 200`, 'g')) ?? []).length;
    }
    assert.ok(seen >= 4, `tcpdump saw ${seen} packets; ig stderr: ${stderr}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
  }
  const td = readBack();
  assert.equal(td.status, 0, td.stderr);
  assert.match(td.stderr, /link-type EN10MB \(Ethernet\)/);
  // timestamps are wall-clock: today's date in UTC
  const tv = spawnSync('tcpdump', ['-nn', '-tttt', '-r', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  const today = new Date().toISOString().slice(0, 10);
  assert.ok(tv.stdout.split('\n').filter(Boolean).every((l) => l.startsWith(today)), tv.stdout.slice(0, 300));

  const ts = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.interface_name', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'udp.dstport', '-e', 'frame.time_epoch'], { encoding: 'utf8' });
  assert.equal(ts.status, 0, ts.stderr);
  const rows = ts.stdout.trim().split('\n').map((l) => l.split(','));
  assert.ok(rows.length >= 4, ts.stdout);
  const now = Date.now() / 1000;
  for (const [ifname, cap, len, dport, epoch] of rows) {
    assert.equal(ifname, 'lo');
    // --snaplen 100 of a 242-byte frame: captured and original lengths in the Enhanced Packet Block
    assert.equal(Number(cap), 100);
    assert.equal(Number(len), 14 + 20 + 8 + 200);
    assert.equal(Number(dport), PORT);
    assert.ok(Math.abs(Number(epoch) - now) < 300, `timestamp ${epoch}`);
  }
});

test('a bad --pf ends the run in one line naming the expression', () => {
  const r = runIgSync(['run', 'tcpdump', '--iface', 'lo', '--pf', 'udp and prot 53', '--timeout', '5']);
  assert.notEqual(r.code, 0);
  const errs = r.stderr.split('\n').filter((l) => l.startsWith('Error'));
  assert.equal(errs.length, 1, r.stderr);
  assert.match(errs[0]!, /--pf "udp and prot 53": invalid packet filter: syntax error/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
