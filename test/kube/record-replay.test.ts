/**
 * Record and replay on a node of a cluster: real containerd containers in k8s.io with CRI labels, their pods in
 * the FAKE Kubernetes API server, and `ig run … --record` as a node of that cluster (NODE_NAME + KUBECONFIG). The
 * replay runs without any cluster (no NODE_NAME, the API server stopped) and must print, byte for byte, what the
 * live run printed: KubeManager's k8s.* columns and fields (pod, namespace, labels, owner, node) and
 * KubeIPResolver's peer names (p/<ns>/<pod>:<port>, s/<ns>/<svc>:<port>), from the recorded API answers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../harness/containerd.js';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { waitFor } from '../containers/proc-util.js';
import { waitOwnProgram } from '../harness/owned-progs.js';
import { startFakeKubeApiServer, objects, type FakeKubeApiServer, type KubeObject } from '../fakes/kube-apiserver/index.js';

const skip = containerdAvailable() ? false : 'needs root, containerd, runc, busybox-static';
const NODE = 'node-h18rec';

function criLabels(pod: KubeObject, container: string): Record<string, string> {
  return {
    'io.kubernetes.pod.uid': pod.metadata.uid!, 'io.kubernetes.pod.namespace': pod.metadata.namespace!,
    'io.kubernetes.pod.name': pod.metadata.name!, 'io.kubernetes.container.name': container, 'io.cri-containerd.kind': 'container',
  };
}

describe('record on a cluster node, replay without the cluster', { skip, timeout: 600_000 }, () => {
  let h: ContainerdHarness;
  let fake: FakeKubeApiServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ig-kube-rec-h18feat-'));
  const dep = objects.deployment({ name: 'web', namespace: 'shop', selector: { app: 'web' } });
  const rs = objects.replicaSet({ name: 'web-5d8', namespace: 'shop', selector: { app: 'web' }, owner: dep });
  const webPod = objects.pod({ name: 'web-5d8-xyz12', namespace: 'shop', nodeName: NODE, labels: { app: 'web', tier: 'front' }, owner: rs, containers: [{ name: 'nginx', containerID: 'h18r-web' }] });
  const clientPod = objects.pod({ name: 'client-0', namespace: 'shop', nodeName: NODE, labels: { app: 'client' }, containers: [{ name: 'nc', containerID: 'h18r-nc' }] });
  const apiPod = objects.pod({ name: 'api-0', namespace: 'backend', nodeName: 'node-other', labels: { app: 'api' }, containers: [{ name: 'api' }], podIP: '127.0.0.3' });
  const svc = objects.service({ name: 'web-svc', namespace: 'shop', clusterIP: '127.0.0.2', selector: { app: 'web' }, labels: { team: 'shop' }, ports: [{ port: 80 }] });
  const env = () => ({ NODE_NAME: NODE, KUBECONFIG: fake!.kubeconfigPath });
  const flags = () => ['--runtimes', 'containerd', '--containerd-socketpath', h.socket];

  before(async () => {
    fake = await startFakeKubeApiServer({ objects: [objects.node(NODE), dep, rs, webPod, clientPod, apiPod, svc] });
    h = await startContainerd({ namespace: 'k8s.io' });
    await h.run('h18r-web', 'while true; do cat /etc/hostname; sleep 0.2; done', criLabels(webPod, 'nginx'));
    await h.run('h18r-nc', 'while true; do nc 127.0.0.2 80 </dev/null; nc 127.0.0.3 8080 </dev/null; sleep 0.3; done', criLabels(clientPod, 'nc'));
  });

  after(async () => {
    await h?.stop();
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Record until `done(stdout)`, then stop ig. */
  async function record(args: string[], file: string, done: (out: string) => boolean, attached?: string): Promise<string> {
    const ig = new IgProcess([...args, ...flags(), '--record', file], env());
    // -o none prints nothing to wait for: its recording time counts from the attach (a SIGINT before ig's start-up
    // ends kills it, and start-up takes over 3 s on a loaded machine)
    if (attached) await waitOwnProgram(ig.child.pid!, attached, 30_000);
    await waitFor(`${args.join(' ')}: the events looked for`, () => done(ig.stdout) || ig.child.exitCode !== null, 30_000);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(done(r.stdout), r.stdout.slice(0, 2000));
    return r.stdout;
  }

  const files: { args: string[]; file: string; live: string }[] = [];

  test('trace_open (KubeManager) and trace_tcp (KubeIPResolver) recorded on the node', async () => {
    for (const [k, args] of [
      ['run', 'trace_open', '-p', 'web-5d8-xyz12'],
      ['run', 'trace_open', '-p', 'web-5d8-xyz12', '-o', 'json'],
      ['run', 'trace_tcp', '-p', 'client-0'],
      ['run', 'trace_tcp', '-p', 'client-0', '-o', 'json'],
      ['run', 'trace_open', '-p', 'web-5d8-xyz12', '-o', 'none'],
      ['run', 'trace_tcp', '-p', 'client-0', '-o', 'none'],
    ].entries()) {
      const file = join(dir, `${k}.igrec`);
      let t0 = 0;
      const none = args.includes('none');
      const done = none ? () => Date.now() - (t0 ||= Date.now()) > 3000 : args[1] === 'trace_open'
        ? (o: string) => o.split('\n').filter((l) => l.includes('web-5d8-xyz12')).length >= 3
        : (o: string) => /s\/shop\/web-svc:80|"name":"web-svc"/.test(o) && /p\/backend\/api-0:8080|"name":"api-0"/.test(o);
      const attached = none ? (args[1] === 'trace_open' ? 'ig_openat_e' : 'ig_tcp_state') : undefined;
      files.push({ args, file, live: await record(args, file, done, attached) });
    }
    const json = JSON.parse(files[1]!.live.split('\n').find((l) => l.includes('h18r-web'))!) as { k8s: Record<string, unknown> };
    assert.deepEqual(json.k8s, { node: NODE, namespace: 'shop', podName: 'web-5d8-xyz12', containerName: 'nginx', hostnetwork: false, podLabels: 'app=web,tier=front', owner: { kind: 'Deployment', name: 'web' } });
  });

  test('the replays, without a cluster, print exactly what the live runs printed', async () => {
    assert.equal(files.length, 6);
    await fake!.stop();
    fake = undefined;
    for (const f of files.filter((x) => !x.args.includes('none'))) {
      // No NODE_NAME, no KUBECONFIG, no API server: only the recording says this was a cluster node.
      const r = runIgSync(['replay', f.file, ...f.args.slice(2)], { env: { NODE_NAME: '', KUBECONFIG: '' } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, f.live, `replay differs from the live run (${f.args.join(' ')})`);
    }
    // Recorded with -o none (no field shown, so no container question asked): the replay answers from the recorded
    // container table, joined to the pods as they were when the recording started.
    const none = files.find((f) => f.args.includes('none'))!;
    assert.equal(none.live, '');
    const r = runIgSync(['replay', none.file, '-o', 'json'], { env: { NODE_NAME: '', KUBECONFIG: '' } });
    assert.equal(r.code, 0, r.stderr);
    const evs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { runtime: { containerId: string }; k8s: { podName: string; podLabels: string; owner: { kind: string } } });
    assert.ok(evs.length > 0);
    assert.ok(evs.every((e) => e.runtime.containerId === 'h18r-web' && e.k8s.podName === 'web-5d8-xyz12' && e.k8s.podLabels === 'app=web,tier=front' && e.k8s.owner.kind === 'Deployment'), r.stdout.slice(0, 1500));
    // trace_tcp recorded with -o none: no address was resolved, so the peers' pod and service are not in the
    // recording. A replay that shows the endpoints fails in one line naming them, rather than printing r/<ip>.
    const tcpNone = files[5]!;
    const t = runIgSync(['replay', tcpNone.file, '-o', 'json'], { env: { NODE_NAME: '', KUBECONFIG: '' } });
    assert.equal(t.code, 1, t.stdout.slice(0, 1500));
    assert.match(t.stderr.trim(), /^Error: [^\n]*the recording has no pod of an address for field the endpoints' k8s fields \(\*\.endpoint, \*\.k8s\.\*\) \(k8s-pod-ip [^)]+\): the recorded run did not show it[^\n]*$/);
    const t2 = runIgSync(['replay', tcpNone.file, '-o', 'json', '--fields', 'proc.comm,k8s.podName'], { env: { NODE_NAME: '', KUBECONFIG: '' } });
    assert.equal(t2.code, 0, t2.stderr);
    assert.match(t2.stdout, /"podName":"client-0"/);
    const info = runIgSync(['replay', '--info', files[2]!.file]);
    assert.match(info.stdout, /^Host facts: .*kube 1/m);
    assert.match(info.stdout, /^Host facts: .*k8s-svc-ip \d+/m);
  });
});
