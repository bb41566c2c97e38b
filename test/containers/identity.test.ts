/**
 * Container identity under namespace-inode reuse. Mount-namespace inode numbers are reused on this kind of
 * host, so the collection keys containers on (mntns, pid, pid start time) and pins the namespaces of the
 * containers it answers for. These tests drive the collection with a scripted runtime client whose
 * "containers" are real processes in fresh mount namespaces (`unshare --mount sleep`), which lets them kill
 * a process without telling the collection, restart a container under the same id, and so on.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import {
  ContainerCollection, hostMntns, type RuntimeClient, type RuntimeContainer,
} from '../../src/containers/index.js';
import type { RuntimeWatchHandlers } from '../../src/containers/types.js';
import { emptyK8s } from '../../src/containers/types.js';
import { record, waitEvent } from './helpers.js';
import { runSecondTickNow, secondTickState } from '../../src/runtime/second-tick.js';
import { sleep, waitFor } from './proc-util.js';

const skip = process.getuid?.() === 0 && fs.existsSync('/usr/bin/unshare') ? false : 'needs root and util-linux unshare';

/** A runtime client the test scripts by hand. */
class ScriptedRuntime implements RuntimeClient {
  readonly runtime = 'docker' as const;
  readonly socket = 'scripted://identity-test';
  h!: RuntimeWatchHandlers;
  async watch(h: RuntimeWatchHandlers): Promise<void> { this.h = h; }
  async list(): Promise<RuntimeContainer[]> { return []; }
  close(): void { /* nothing */ }
  add(id: string, pid: number): void {
    this.h.add({ runtime: 'docker', id, name: `name-${id}`, imageName: 'img', imageDigest: '', pid, startedAt: 0, labels: {}, k8s: emptyK8s() });
  }
}

const procs: ChildProcess[] = [];
const mntnsOf = (pid: number) => BigInt(/\d+/.exec(fs.readlinkSync(`/proc/${pid}/ns/mnt`))![0]);

/** A process in a new mount namespace; resolves once it has unshared. */
async function nsProcess(): Promise<{ pid: number; mntns: bigint; kill: () => Promise<void> }> {
  const child = spawn('unshare', ['--mount', 'sleep', '1000'], { stdio: 'ignore' });
  procs.push(child);
  const pid = child.pid!;
  const host = hostMntns();
  const mntns = await waitFor('unshare', () => { const m = mntnsOf(pid); return m !== host ? m : 0n; }, 5000);
  return {
    pid,
    mntns,
    kill: async () => {
      child.kill('SIGKILL');
      await waitFor('exit', () => child.exitCode !== null || child.signalCode !== null, 5000);
    },
  };
}

afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

describe('identity under namespace-inode reuse', { skip }, () => {
  test('a removed container keeps its mntns pinned while it is cached: a new container cannot take it', async () => {
    const rt = new ScriptedRuntime();
    const col = await ContainerCollection.start({ runtimes: [], extraClients: [rt], removedCacheMs: 2000 });
    try {
      const events = record(col);
      const a = await nsProcess();
      rt.add('a', a.pid);
      assert.equal(col.byMntns(a.mntns)?.id, 'a');
      await a.kill();
      rt.h.remove('a');
      await waitEvent(events, 'remove', (c) => c.id === 'a');
      // several fresh namespaces in a row: none may reuse a's inode while a is in the removed cache
      for (let i = 0; i < 5; i++) {
        const b = await nsProcess();
        assert.notEqual(b.mntns, a.mntns, 'pinned inode was reused');
        rt.add(`b${i}`, b.pid);
        assert.equal(col.byMntns(b.mntns)?.id, `b${i}`);
        assert.equal(col.byMntns(a.mntns)?.id, 'a', 'late events of a are still enriched as a');
        await b.kill();
        rt.h.remove(`b${i}`);
      }
    } finally {
      await col.stop();
    }
  });

  test('after the cache window an inode reused by a new container resolves to the new one only', async () => {
    const rt = new ScriptedRuntime();
    const col = await ContainerCollection.start({ runtimes: [], extraClients: [rt], removedCacheMs: 100 });
    try {
      let reused = false;
      for (let attempt = 0; attempt < 10 && !reused; attempt++) {
        const a = await nsProcess();
        rt.add(`a${attempt}`, a.pid);
        await a.kill();
        rt.h.remove(`a${attempt}`);
        await sleep(150); // cache expired → fds released → the kernel may hand the inode out again
        assert.equal(col.byMntns(a.mntns), undefined);
        const b = await nsProcess();
        rt.add(`b${attempt}`, b.pid);
        const found = col.byMntns(b.mntns);
        assert.equal(found?.id, `b${attempt}`);
        assert.equal(found?.pid, b.pid);
        if (b.mntns === a.mntns) {
          reused = true;
          assert.equal(col.byMntns(a.mntns)?.id, `b${attempt}`, 'the reused inode maps to the new container, not the dead one');
        }
        await b.kill();
        rt.h.remove(`b${attempt}`);
      }
      // the kernel reuses freed namespace inodes promptly on this kind of host; say so if it did not
      if (!reused) console.log('# note: no inode reuse observed; identity assertions above still held');
    } finally {
      await col.stop();
    }
  });

  test('a container whose process died without a runtime event is replaced, not inherited', async () => {
    const rt = new ScriptedRuntime();
    const col = await ContainerCollection.start({ runtimes: [], extraClients: [rt], livenessIntervalMs: 100 });
    try {
      const events = record(col);
      const a = await nsProcess();
      rt.add('a', a.pid);
      await a.kill(); // no remove event
      await waitEvent(events, 'remove', (c) => c.id === 'a', 3000); // liveness sweep
      const b = await nsProcess();
      rt.add('b', b.pid);
      assert.equal(col.byMntns(b.mntns)?.id, 'b');
      assert.deepEqual(col.list().map((c) => c.id), ['b']);
    } finally {
      await col.stop();
    }
  });

  test('by default the liveness sweep is a job of the shared 1 s tick: a tick removes a container whose process died', async () => {
    const rt = new ScriptedRuntime();
    const jobsBefore = secondTickState().jobs;
    const col = await ContainerCollection.start({ runtimes: [], extraClients: [rt] });
    try {
      assert.equal(secondTickState().jobs, jobsBefore + 1, 'no liveness timer of its own');
      const events = record(col);
      const a = await nsProcess();
      rt.add('a', a.pid);
      await a.kill(); // no remove event
      runSecondTickNow();
      assert.ok(events.some((e) => e.type === 'remove' && e.c.id === 'a'), 'the tick swept the dead container');
    } finally {
      await col.stop();
    }
    assert.equal(secondTickState().jobs, jobsBefore, 'stop leaves the tick');
  });

  test('same container id with a new process (restart) is a remove then an add', async () => {
    const rt = new ScriptedRuntime();
    const col = await ContainerCollection.start({ runtimes: [], extraClients: [rt], livenessIntervalMs: 0 });
    try {
      const events = record(col);
      const a1 = await nsProcess();
      rt.add('x', a1.pid);
      rt.add('x', a1.pid); // duplicate report (list + event): no new event
      assert.equal(events.length, 1);
      const a2 = await nsProcess();
      rt.add('x', a2.pid);
      assert.deepEqual(events.map((e) => `${e.type}:${e.c.pid}`), [`add:${a1.pid}`, `remove:${a1.pid}`, `add:${a2.pid}`]);
      assert.equal(col.list().length, 1);
      assert.equal(col.list()[0]!.pidStartTime, events[2]!.c.pidStartTime);
    } finally {
      await col.stop();
    }
  });

  test('a pid that is already gone is never added', async () => {
    const rt = new ScriptedRuntime();
    const col = await ContainerCollection.start({ runtimes: [], extraClients: [rt] });
    try {
      const a = await nsProcess();
      await a.kill();
      rt.add('gone', a.pid);
      assert.deepEqual(col.list(), []);
    } finally {
      await col.stop();
    }
  });
});
