// trace_tcpretrans: in a network namespace made by the test, an iptables rule drops the SYNs to one port, so
// a connect(2) there retransmits its SYN. The namespace (and its rule) is deleted at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IgProcess, runIgSync } from '../../../test/harness/ig.js';
import { columnsOf, LineChild, TCP_CONNECTOR, TestNetns } from '../../../test/harness/activity.js';
import { buildVariant } from '../../../test/harness/variant.js';

interface Endpoint { addr: string; port: number; proto: string; version: number }
interface RetransEvent {
  timestamp: string; netns_id: number;
  proc: { comm: string; pid: number };
  src: Endpoint; dst: Endpoint; state: string; tcpflags: string; type: string;
}

const PORT = 45000 + (process.pid % 1000);
let netns: TestNetns;
let client: LineChild;

before(async () => {
  netns = new TestNetns('retrans');
  netns.exec('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(PORT), '-j', 'DROP']);
  client = new LineChild(netns.prefix[0]!, [...netns.prefix.slice(1), process.execPath, '-e', TCP_CONNECTOR]);
  await client.waitLine(/^ready$/);
});

after(async () => {
  await client?.kill();
  netns?.del(); // the iptables rule lives in the namespace
});

test('SYN retransmissions of a connect whose SYNs are dropped', async () => {
  const ig = new IgProcess(['run', 'trace_tcpretrans', '--host', '-o', 'json']);
  try {
    // A new connection every second; the socket enricher names the owner once it has seen the socket.
    const ev = await ig.waitFor<RetransEvent>((e) => e.dst.port === PORT && e.proc.pid === client.pid,
      () => client.send(`c ${PORT}`), { everyMs: 1000, timeoutMs: 30000 });
    assert.equal(ev.type, 'RETRANS');
    assert.equal(ev.state, 'tcp_syn_sent');
    assert.equal(ev.tcpflags, 'SYN');
    assert.deepEqual({ addr: ev.dst.addr, proto: ev.dst.proto, version: ev.dst.version }, { addr: '127.0.0.1', proto: 'TCP', version: 4 });
    assert.equal(ev.src.addr, '127.0.0.1');
    assert.ok(ev.src.port > 0 && ev.src.port !== PORT);
    assert.equal(ev.netns_id, netns.inode);
    assert.equal(ev.proc.comm, 'node');
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID SRC DST STATE TCPFLAGS REASON TYPE (REASON shown, as upstream\'s gadget.yaml says)', async () => {
  const ig = new IgProcess(['run', 'trace_tcpretrans', '--host']);
  const { header, row } = await columnsOf(ig, new RegExp(`127\\.0\\.0\\.1:${PORT}\\s`), () => client.send(`c ${PORT}`), 30000);
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+SRC\s+DST\s+STATE\s+TCPFLAGS\s+REASON\s+TYPE/);
  assert.match(row, /tcp_syn_sent\s+SYN\s+0\s+RETRANS$/);
});

test('LOSS events need upstream\'s kprobe on tcp_send_loss_probe: one line says this kernel has none', () => {
  const v = buildVariant('trace_tcpretrans', `
SEC("kprobe/tcp_send_loss_probe")
int ig_tcpretrans_loss(void *ctx) { return 0; }`);
  try {
    const r = runIgSync(['run', v.image, '--host', '--timeout', '2'], { env: v.env });
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /program ig_tcpretrans_loss: kprobe tcp_send_loss_probe \(kprobes\) is not supported: this kernel has no kprobes/);
  } finally {
    v.cleanup();
  }
});
