// trace_tcpdrop: in a network namespace made by the test, an iptables OUTPUT rule drops the SYNs to one port:
// the kernel frees them with reason SKB_DROP_REASON_NETFILTER_DROP (a name from the kernel's enum
// skb_drop_reason). The namespace and its rule are deleted at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf, LineChild, TCP_CONNECTOR, TestNetns } from '../../../test/harness/activity.js';

interface Endpoint { addr: string; port: number; proto: string; version: number }
interface DropEvent {
  timestamp: string; netns_id: number;
  // upstream's flat names for the socket's owner
  comm: string; pid: number; tid: number; uid: number; gid: number; mount_ns_id: number;
  src: Endpoint; dst: Endpoint; state: string; tcpflags: string; reason: string; reason_raw: number; kernel_stack?: string;
}

const PORT = 46000 + (process.pid % 1000);
let netns: TestNetns;
let client: LineChild;

before(async () => {
  netns = new TestNetns('tcpdrop');
  netns.exec('iptables', ['-A', 'OUTPUT', '-p', 'tcp', '--dport', String(PORT), '-j', 'DROP']);
  client = new LineChild(netns.prefix[0]!, [...netns.prefix.slice(1), process.execPath, '-e', TCP_CONNECTOR]);
  await client.waitLine(/^ready$/);
});

after(async () => {
  await client?.kill();
  netns?.del();
});

test('a SYN dropped by netfilter: reason name, state, flags, endpoints, netns, owner', async () => {
  const ig = new IgProcess(['run', 'trace_tcpdrop', '--host', '-o', 'json']);
  try {
    // Retransmitted SYNs are dropped again; by then the socket enricher knows the owner.
    const ev = await ig.waitFor<DropEvent>((e) => e.dst.port === PORT && e.pid === client.pid,
      () => client.send(`c ${PORT}`), { everyMs: 1000, timeoutMs: 30000 });
    assert.equal(ev.reason, 'SKB_DROP_REASON_NETFILTER_DROP');
    assert.ok(ev.reason_raw > 2);
    assert.equal(ev.state, 'tcp_syn_sent');
    assert.equal(ev.tcpflags, 'SYN');
    assert.deepEqual({ addr: ev.dst.addr, proto: ev.dst.proto, version: ev.dst.version }, { addr: '127.0.0.1', proto: 'TCP', version: 4 });
    assert.equal(ev.src.addr, '127.0.0.1');
    assert.ok(ev.src.port > 0);
    assert.equal(ev.netns_id, netns.inode);
    assert.equal(ev.comm, 'node');
    assert.equal(ev.uid, process.getuid!());
    assert.ok(ev.mount_ns_id > 0);
    if (ev.kernel_stack !== undefined) assert.match(ev.kernel_stack, /nf_hook_slow/);
  } finally {
    await ig.stop();
  }
});

test('columns: SRC DST COMM PID TID UID GID STATE TCPFLAGS REASON (upstream\'s order)', async () => {
  const ig = new IgProcess(['run', 'trace_tcpdrop', '--host']);
  const { header, row } = await columnsOf(ig, new RegExp(`127\\.0\\.0\\.1:${PORT}\\s`), () => client.send(`c ${PORT}`), 30000);
  assert.match(header, /SRC\s+DST\s+COMM\s+PID\s+TID\s+UID\s+GID\s+STATE\s+TCPFLAGS\s+REASON/);
  assert.match(row, /tcp_syn_sent\s+SYN\s+SKB_DROP_REASON_NETFILTER_DROP/);
});
