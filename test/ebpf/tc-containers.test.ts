// TC gadgets without --iface attach to the host end of each selected container's veth, as upstream: a real
// containerd container runs in a network namespace of the test joined to the host by a veth pair (the CNI's
// job, done here by hand). tcpdump -c <name> sees datagrams in both directions (the host end's egress carries
// the container's ingress); the DNS queries the container's own process sends carry its container name (socket
// enricher), follows a container started after ig, and detaches from the host end when that container stops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../harness/containerd.js';
import { IgProcess } from '../harness/ig.js';
import { bpfProgIds, leakedPrograms, run, TestNetns } from '../harness/activity.js';
import { waitFor } from '../containers/proc-util.js';

const skip = containerdAvailable() && spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0 ? false : 'needs containerd, runc, busybox-static and iproute2';

interface PacketEvent { packet_type: number; ifindex: number; payload: string; runtime: { containerName: string } }

/** A network namespace with a veth pair to the host: host end 10.231.<n>.1, namespace end .2. */
class VethNetns {
  readonly ns: TestNetns;
  readonly hostEnd: string;
  readonly hostIp: string;
  readonly nsIp: string;
  constructor(tag: string, n: number) {
    this.ns = new TestNetns(tag);
    this.hostEnd = `igv${n}${process.pid % 100000}`.slice(0, 15);
    this.hostIp = `10.231.${n}.1`;
    this.nsIp = `10.231.${n}.2`;
    try {
      run('ip', ['link', 'add', this.hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns.name]);
      run('ip', ['addr', 'add', `${this.hostIp}/24`, 'dev', this.hostEnd]);
      run('ip', ['link', 'set', this.hostEnd, 'up']);
      run('ip', ['-n', this.ns.name, 'addr', 'add', `${this.nsIp}/24`, 'dev', 'eth0']);
      run('ip', ['-n', this.ns.name, 'link', 'set', 'eth0', 'up']);
    } catch (e) {
      this.del();
      throw e;
    }
  }
  /** filters TC holds on the host end (ingress and egress) */
  tcFilters(): string {
    return ['ingress', 'egress'].map((d) => spawnSync('tc', ['filter', 'show', 'dev', this.hostEnd, d], { encoding: 'utf8' }).stdout).join('');
  }
  del(): void {
    spawnSync('ip', ['link', 'del', this.hostEnd], { stdio: 'ignore' });
    this.ns.del();
  }
}

let h: ContainerdHarness;
const nets: VethNetns[] = [];
const sock = createSocket('udp4');
const PORT = 30000 + (process.pid % 10000);

before(async () => { if (!skip) h = await startContainerd(); });
after(async () => {
  sock.close();
  await h?.stop();
  for (const n of nets) n.del();
});

/** Start container `name` inside the namespace (ctr run --with-ns): it keeps asking the host end for `marker`. */
async function runIn(net: VethNetns, name: string, marker: string): Promise<number> {
  await h.ctr(['run', '-d', '--with-ns', `network:${net.ns.path}`, h.imageName, name, 'sh', '-c',
    `while true; do nslookup ${marker}.test ${net.hostIp} >/dev/null 2>&1; sleep 0.5; done`]);
  return waitFor(`task ${name} running`, () => h.taskPid(name), 10_000);
}

/** host → container (the host end's egress, the container's ingress); the container sends its queries itself */
function traffic(net: VethNetns, marker: string): void {
  sock.send(Buffer.from(marker), PORT, net.nsIp);
}

const carries = (e: PacketEvent, marker: string) => Buffer.from(e.payload, 'hex').includes(Buffer.from(marker));

test('tcpdump -c NAME: both directions on the host end of the container veth, containers that start later, detach on stop', { skip, timeout: 180_000 }, async () => {
  const early = new VethNetns('tce', 1);
  nets.push(early);
  const m1 = `early-${process.pid}`;
  await runIn(early, 'tc-early', m1);
  const progsBefore = bpfProgIds(['ig_tc_disp', 'ingress_main', 'egress_main']);
  const ig = new IgProcess(['run', 'tcpdump', '-o', 'json', '-c', 'tc-early,tc-late', '-r', 'containerd',
    '--containerd-socketpath', h.socket, '--containerd-namespace', h.namespace, '--pf', `udp port ${PORT} or udp port 53`]);
  try {
    const inEv = await ig.waitFor<PacketEvent>((e) => carries(e, m1) && e.packet_type === 1, () => traffic(early, m1), { timeoutMs: 60000, everyMs: 500 });
    const outEv = await ig.waitFor<PacketEvent>((e) => carries(e, m1) && e.packet_type === 0, () => traffic(early, m1), { timeoutMs: 20000, everyMs: 500 });
    const hostIfindex = Number(run('cat', [`/sys/class/net/${early.hostEnd}/ifindex`]).trim());
    for (const e of [inEv, outEv]) assert.equal(e.ifindex, hostIfindex, 'seen on the host end');
    // the container's ingress is the host → container datagram: destination is the container's address
    const dst = (e: PacketEvent) => Buffer.from(e.payload, 'hex').subarray(30, 34).join('.');
    assert.equal(dst(inEv), early.nsIp);
    assert.equal(dst(outEv), early.hostIp);
    // the query leaves the container's own process: its socket names the container
    assert.equal(outEv.runtime.containerName, "tc-early", JSON.stringify(outEv));
    assert.notEqual(early.tcFilters(), '', 'filters on the host end while the container runs');

    // a container that starts after ig
    const late = new VethNetns('tcl', 2);
    nets.push(late);
    const m2 = `late-${process.pid}`;
    await runIn(late, 'tc-late', m2);
    const lateEv = await ig.waitFor<PacketEvent>((e) => carries(e, m2) && e.packet_type === 0, () => traffic(late, m2), { timeoutMs: 30000, everyMs: 500 });
    assert.equal(lateEv.runtime.containerName, 'tc-late');
    assert.notEqual(late.tcFilters(), '');

    // it stops: ig takes its filters off the host end (the veth stays: its namespace belongs to the test)
    await h.kill('tc-late');
    assert.ok(await waitFor('filters removed', async () => late.tcFilters() === '' || undefined, 20_000));
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(early.tcFilters(), '', 'nothing left after ig stops');
    assert.deepEqual(await leakedPrograms(['ig_tc_disp', 'ingress_main', 'egress_main'], progsBefore), [], 'no dispatcher or gadget program left');
  } finally {
    await ig.stop();
    await h.kill('tc-early');
    await h.kill('tc-late');
  }
});
