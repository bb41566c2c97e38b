// Network gadgets follow containers: a socket-filter gadget (trace_dns) run with -c attaches in the network
// namespace of a container that starts after ig; its events are enriched through the packet's netns.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../harness/containerd.js';
import { IgProcess } from '../harness/ig.js';
import { bpfObjectsOf } from './helpers.js';

const skip = containerdAvailable() ? false : 'needs containerd, runc and busybox-static';
let h: ContainerdHarness;

before(async () => { if (!skip) h = await startContainerd(); });
after(async () => { await h?.stop(); });

test('trace_dns -c NAME sees DNS queries of a container started after ig', { skip, timeout: 120_000 }, async () => {
  const ig = new IgProcess(['run', 'trace_dns', '-o', 'json', '-c', 'late', '-r', 'containerd',
    '--containerd-socketpath', h.socket, '--containerd-namespace', h.namespace]);
  try {
    // ig is up once it holds its gadget program (no matching container exists yet).
    const deadline = Date.now() + 20000;
    while (bpfObjectsOf(ig.pid).progIds.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await h.run('late', ['sh', '-c', 'while true; do busybox nslookup ig-late.test 127.0.0.1 >/dev/null 2>&1; sleep 0.3; done']);
    const ev = await ig.waitFor<{ name: string; runtime: { containerName: string; runtimeName: string } }>(
      (e) => e.name === 'ig-late.test.', () => undefined, { timeoutMs: 30000 });
    assert.equal(ev.runtime.containerName, 'late');
    assert.equal(ev.runtime.runtimeName, 'containerd');
    await h.kill('late');
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await ig.stop();
  }
});
