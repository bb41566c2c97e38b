/**
 * Container collection against a real podman + runc (test/harness/podman.ts), through the Docker-compatible
 * REST API of `podman system service`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ContainerCollection } from '../../src/containers/index.js';
import { podmanAvailable, startPodman, type PodmanHarness } from '../harness/podman.js';
import { record, waitEvent, warnings } from './helpers.js';
import { sleep, waitFor } from './proc-util.js';

const skip = podmanAvailable() ? false : 'podman/runc/conmon/busybox-static not installed or not root';
const inode = (link: string) => BigInt(/\d+/.exec(link)![0]);

describe('podman runtime', { skip }, () => {
  let p: PodmanHarness;
  before(async () => { p = await startPodman(); });
  after(async () => { await p?.stop(); });

  test('lists running containers, follows start and stop, keeps removed ones for 2 s', async () => {
    const pre = await p.run('pre', 'sleep 1000', { app: 'pre' });
    const w = warnings();
    const col = await ContainerCollection.start({ runtimes: ['podman'], podmanSocket: p.socket, warn: w.warn });
    try {
      const events = record(col);
      const listed = col.list();
      assert.equal(listed.length, 1);
      const c0 = listed[0]!;
      assert.equal(c0.runtime, 'podman');
      assert.equal(c0.id, pre.id);
      assert.equal(c0.name, 'pre');
      assert.equal(c0.pid, pre.pid);
      assert.equal(c0.imageName, 'localhost/bbox:latest');
      assert.match(c0.imageDigest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(c0.labels.app, 'pre');
      assert.equal(c0.mntns, inode(fs.readlinkSync(`/proc/${pre.pid}/ns/mnt`)));
      assert.equal(c0.cgroupPath, `${p.cgroupParent}/libpod-${pre.id}`);
      assert.ok(c0.cgroupId > 0n);
      assert.ok(Math.abs(c0.startedAt / 1e6 - Date.now()) < 120_000);
      assert.deepEqual(c0.k8s, { namespace: '', podName: '', containerName: '', podUid: '', podLabels: {} });

      const hn = await p.run('hn', 'while true; do cat /etc/hostname; sleep 1; done');
      const add = await waitEvent(events, 'add', (c) => c.name === 'hn');
      assert.equal(add.c.id, hn.id);
      assert.equal(add.c.pid, hn.pid);
      assert.equal(add.c.mntns, inode(fs.readlinkSync(`/proc/${hn.pid}/ns/mnt`)));

      await p.kill('hn');
      const rm = await waitEvent(events, 'remove', (c) => c.name === 'hn');
      assert.equal(col.byMntns(add.c.mntns)?.name, 'hn');
      await waitFor('removed-cache expiry', () => col.byMntns(add.c.mntns) === undefined, 3000);
      assert.ok(Date.now() - rm.at >= 1900);
      assert.equal(events.filter((e) => e.type === 'remove').length, 1, 'die and remove give one removal');
      assert.deepEqual(w.list, []);
    } finally {
      await col.stop();
      await p.kill('pre');
    }
  });

  test('API service killed mid-run: one warning, no crash, dead containers still noticed', async () => {
    const a = await p.run('a', 'sleep 1000');
    const w = warnings();
    const col = await ContainerCollection.start({ runtimes: ['podman'], podmanSocket: p.socket, warn: w.warn, livenessIntervalMs: 200 });
    try {
      const events = record(col);
      assert.deepEqual(col.list().map((c) => c.name), ['a']);
      await p.stopService();
      await waitFor('lost-connection warning', () => w.list.length > 0, 5000);
      await sleep(500);
      assert.equal(w.list.length, 1, `exactly one warning: ${JSON.stringify(w.list)}`);
      assert.match(w.list[0]!, /^podman: lost connection to .*podman\.sock/);
      assert.deepEqual(col.list().map((c) => c.name), ['a'], 'still running containers are kept');
      // the container dies while nobody reports it: the liveness sweep removes it
      process.kill(a.pid, 'SIGKILL');
      await waitEvent(events, 'remove', (c) => c.name === 'a', 5000);
      assert.deepEqual(col.list(), []);
      assert.equal(w.list.length, 1);
    } finally {
      await col.stop();
    }
  });
});
