// Socket filter on a packet socket inside a network namespace; TC attach/detach on a dummy link.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { native } from './native.js';
import { BpfObject } from './object.js';
import { compileBpf, orphanedPrograms, removeBuildDir, setupKernel, skipReason, u32, waitFor } from './testutil.js';

const PYTHON = '/usr/bin/python3';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tc(...args: string[]): string {
  return execFileSync('tc', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function count(obj: BpfObject, idx: number): bigint {
  return obj.map('pkts').lookup(u32(idx))!.readBigUInt64LE(0);
}

const sendUdp = (dst: string, n: number) =>
  `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${n}): s.sendto(b"igtest", ("${dst}", 9))\n`;

describe('network attach points', { skip: skipReason }, () => {
  let objPath = '';
  before(() => {
    setupKernel();
    objPath = compileBpf('net');
  });
  after(async () => {
    removeBuildDir();
    await waitFor(() => orphanedPrograms(['igt_net_']).length === 0, 3000, 50);
    assert.deepEqual(orphanedPrograms(['igt_net_']), []);
  });

  it('socket filter on a packet socket created inside another netns', () => {
    const ns = `igt-${process.pid}`;
    ip('netns', 'add', ns);
    const obj = BpfObject.open(objPath, 'net');
    let fd = -1;
    try {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      obj.setAutoload('igt_net_tc', false).load();
      const before = readlinkSync('/proc/self/ns/net');
      fd = native.openPacketSocket(`/var/run/netns/${ns}`, 1);
      assert.equal(readlinkSync('/proc/self/ns/net'), before, 'the JS thread stays in its netns');
      assert.ok(fd >= 0);
      obj.attachSocketFilter('igt_net_sock', fd);
      assert.equal(count(obj, 0), 0n);
      const res = spawnSync('ip', ['netns', 'exec', ns, PYTHON, '-c', sendUdp('127.0.0.1', 20)], { encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      // Each datagram crosses lo once out and once in; the packet socket sees both.
      const n = count(obj, 0);
      assert.ok(n >= 20n, `socket filter saw ${n} packets`);
      // Traffic in the host netns is not seen by a socket living in the test netns.
      const res2 = spawnSync(PYTHON, ['-c', sendUdp('127.0.0.1', 20)], { encoding: 'utf8' });
      assert.equal(res2.status, 0, res2.stderr);
      assert.ok(count(obj, 0) - n < 5n, 'host traffic not seen');
      assert.throws(() => native.openPacketSocket('/nonexistent/netns', 0), (e: Error & { code?: string }) =>
        /open packet socket in \/nonexistent\/netns .*open netns/.test(e.message) && e.code === 'ENOENT');
      assert.throws(() => obj.attachSocketFilter('igt_net_sock', 123456), /attach socket filter on fd 123456 for program igt_net_sock/);
    } finally {
      if (fd >= 0) native.closeFd(fd);
      obj.close();
      ip('netns', 'del', ns);
    }
  });

  it('TC ingress/egress attach, and detach removes the filters and the clsact qdisc we created', () => {
    const dev = `igt${process.pid % 100000}a`;
    const peer = `igt${process.pid % 100000}b`;
    ip('link', 'add', dev, 'type', 'veth', 'peer', 'name', peer);
    const obj = BpfObject.open(objPath, 'net');
    try {
      ip('addr', 'add', '10.213.77.1/24', 'dev', dev);
      ip('link', 'set', dev, 'up');
      ip('link', 'set', peer, 'up');
      // A static neighbour so the datagrams leave at once (no ARP round).
      ip('neigh', 'replace', '10.213.77.2', 'lladdr', '02:00:00:00:77:02', 'dev', dev);
      const ifindex = Number(readFileSync(`/sys/class/net/${dev}/ifindex`, 'utf8'));
      obj.setAutoload('igt_net_sock', false).load();
      const ing = obj.attachTc('igt_net_tc', ifindex, false);
      const eg = obj.attachTc('igt_net_tc', ifindex, true);
      assert.match(tc('qdisc', 'show', 'dev', dev), /clsact/);
      assert.match(tc('filter', 'show', 'dev', dev, 'ingress'), /igt_net_tc/);
      assert.match(tc('filter', 'show', 'dev', dev, 'egress'), /igt_net_tc/);
      const res = spawnSync(PYTHON, ['-c', sendUdp('10.213.77.2', 10)], { encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.ok(count(obj, 1) >= 10n, `tc saw ${count(obj, 1)}`);
      ing.destroy();
      assert.doesNotMatch(tc('filter', 'show', 'dev', dev, 'ingress'), /igt_net_tc/);
      assert.match(tc('qdisc', 'show', 'dev', dev), /clsact/, 'still used by the egress filter');
      eg.destroy();
      assert.doesNotMatch(tc('qdisc', 'show', 'dev', dev), /clsact/, 'we created it, we removed it');

      // A clsact qdisc that was there before us stays.
      tc('qdisc', 'add', 'dev', dev, 'clsact');
      const l = obj.attachTc('igt_net_tc', ifindex, false);
      obj.close(); // destroys the link
      assert.equal(l.destroyed, true);
      assert.doesNotMatch(tc('filter', 'show', 'dev', dev, 'ingress'), /igt_net_tc/);
      assert.match(tc('qdisc', 'show', 'dev', dev), /clsact/);
      const other = BpfObject.open(objPath, 'net').load();
      try {
        assert.throws(() => other.attachTc('igt_net_tc', 999999, false), /attach tc ingress on ifindex 999999 for program igt_net_tc/);
      } finally {
        other.close();
      }
    } finally {
      obj.close();
      ip('link', 'del', dev);
    }
  });
});
