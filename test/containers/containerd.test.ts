/**
 * Container collection against a real containerd + runc (test/harness/containerd.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerCollection, hostMntns } from '../../src/containers/index.js';
import { cgroup2Root } from '../../src/containers/proc.js';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../harness/containerd.js';
import { record, waitEvent, warnings } from './helpers.js';
import { sleep, waitFor } from './proc-util.js';

const skip = containerdAvailable() ? false : 'containerd/runc/busybox-static not installed or not root';

describe('containerd runtime', { skip }, () => {
  let h: ContainerdHarness;
  // a namespace with a dot, like the default k8s.io, to exercise the event filter's quoting
  before(async () => { h = await startContainerd({ namespace: `igtest.${process.pid}` }); });
  after(async () => { await h?.stop(); });

  test('lists running containers, follows start and stop, keeps removed ones for 2 s', async () => {
    const pre = await h.run('pre', 'sleep 1000', { app: 'pre', 'io.kubernetes.pod.name': 'mypod', 'io.kubernetes.pod.namespace': 'myns', 'io.kubernetes.container.name': 'c1' });
    const w = warnings();
    const col = await ContainerCollection.start({
      runtimes: ['containerd'], containerdSocket: h.socket, containerdNamespace: h.namespace, warn: w.warn,
    });
    try {
      const events = record(col);
      // --- initial list
      const listed = col.list();
      assert.equal(listed.length, 1);
      const p = listed[0]!;
      assert.equal(p.runtime, 'containerd');
      assert.equal(p.id, 'pre');
      assert.equal(p.name, 'c1', 'upstream: the k8s container name label wins over the id');
      assert.equal(p.pid, pre.pid);
      assert.equal(p.imageName, 'docker.io/library/bbox:latest');
      assert.equal(p.imageDigest, h.image.manifestDigest);
      assert.equal(p.labels.app, 'pre');
      assert.deepEqual({ ...p.k8s, podLabels: undefined }, { namespace: 'myns', podName: 'mypod', containerName: 'c1', podUid: '', podLabels: undefined });
      assert.equal(p.mntns, BigInt(/\d+/.exec(fs.readlinkSync(`/proc/${pre.pid}/ns/mnt`))![0]));
      assert.notEqual(p.mntns, hostMntns());
      assert.equal(p.netns, Number(/\d+/.exec(fs.readlinkSync(`/proc/${pre.pid}/ns/net`))![0]));
      assert.equal(p.cgroupPath, `${h.cgroupParent}/pre`);
      const root = cgroup2Root();
      if (root) assert.equal(p.cgroupId, fs.statSync(path.join(root, p.cgroupPath), { bigint: true }).ino);
      assert.ok(p.pidStartTime > 0n);
      assert.ok(Math.abs(p.startedAt / 1e6 - Date.now()) < 120_000, 'startedAt is recent');
      assert.equal(col.byMntns(p.mntns)?.id, 'pre');
      assert.equal(col.byMntns(hostMntns()), undefined);
      assert.deepEqual(col.byNetns(p.netns).map((c) => c.id), ['pre']);

      // --- a container started after the collection
      const hn = await h.run('hn', 'while true; do cat /etc/hostname; sleep 1; done', { app: 'hn' });
      const add = await waitEvent(events, 'add', (c) => c.id === 'hn');
      assert.equal(add.c.pid, hn.pid);
      assert.equal(add.c.name, 'hn');
      assert.equal(add.c.mntns, BigInt(/\d+/.exec(fs.readlinkSync(`/proc/${hn.pid}/ns/mnt`))![0]));
      assert.ok(add.c.startedAt > 0);
      assert.equal(col.list().length, 2);

      // --- stopped → remove; byMntns still answers for ~2 s, then not
      const mntns = add.c.mntns;
      await h.kill('hn');
      const rm = await waitEvent(events, 'remove', (c) => c.id === 'hn');
      assert.equal(rm.c.mntns, mntns);
      assert.deepEqual(col.list().map((c) => c.id), ['pre']);
      assert.equal(col.byMntns(mntns)?.id, 'hn', 'recently removed container still enriches');
      assert.equal(col.byNetns(add.c.netns)[0]?.id, 'hn');
      await sleep(Math.max(0, rm.at + 1500 - Date.now()));
      assert.equal(col.byMntns(mntns)?.id, 'hn', 'still there 1.5 s after removal');
      await waitFor('removed-cache expiry', () => col.byMntns(mntns) === undefined, 3000);
      assert.ok(Date.now() - rm.at >= 1900, 'kept ~2 s');
      assert.equal(events.filter((e) => e.type === 'remove' && e.c.id === 'hn').length, 1, 'one remove');
      assert.deepEqual(w.list, []);
    } finally {
      await col.stop();
      await h.kill('pre');
    }
  });

  test('other containerd namespaces are ignored', async () => {
    const col = await ContainerCollection.start({ runtimes: ['containerd'], containerdSocket: h.socket, containerdNamespace: 'elsewhere' });
    try {
      const events = record(col);
      await h.run('other', 'sleep 1000');
      await sleep(500);
      assert.deepEqual(col.list(), []);
      assert.deepEqual(events, []);
    } finally {
      await col.stop();
      await h.kill('other');
    }
  });
});
