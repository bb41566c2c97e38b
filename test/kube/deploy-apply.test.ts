// `kubectl-gadget deploy` / `undeploy` against the FAKE Kubernetes API server: the objects are created (then
// updated), the readiness wait ends with one line naming what is not ready, RBAC-forbidden and unreachable API
// servers are one line each. The fake runs no controllers: this test plays the DaemonSet controller and kubelet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, repoRoot } from '../harness/ig.js';
import { startFakeKubeApiServer, objects, type FakeKubeApiServer, type KubeObject } from '../fakes/kube-apiserver/index.js';
import { freePort } from '../harness/registry.js';

const KG_MAIN = join(repoRoot(), 'dist', 'src', 'cli', 'kubectl-gadget', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'h15deploy-apply-'));
let fake: FakeKubeApiServer;
const NODES = ['node-a', 'node-b'];

function kg(args: string[], kubeconfig = fake.kubeconfigPath): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new IgProcess(['--kubeconfig', kubeconfig, ...args], undefined, { main: KG_MAIN }).wait();
}

before(async () => {
  fake = await startFakeKubeApiServer({ objects: NODES.map((n) => objects.node(n)) });
});
after(async () => {
  await fake?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The DaemonSet controller and kubelets: a gadget pod per node in the given state, and the DaemonSet's status. */
async function controller(state: 'pulling' | 'ready'): Promise<void> {
  const ds = await fake.get('apps/v1', 'DaemonSet', 'gadget', 'gadget');
  assert.ok(ds, 'the DaemonSet exists');
  for (const n of NODES) {
    const p = objects.pod({ name: `gadget-${n}`, namespace: 'gadget', nodeName: n, labels: { 'k8s-app': 'gadget' }, containers: [{ name: 'gadget', image: 'registry.example/ig:v1' }] }) as KubeObject & { status: Record<string, unknown> };
    if (state === 'pulling') {
      p.status = { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'gadget', ready: false, restartCount: 0, image: 'registry.example/ig:v1', imageID: '', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example/ig:v1"' } } }] };
    } else {
      p.status = { ...p.status, conditions: [{ type: 'Ready', status: 'True' }] };
    }
    await fake.apply(p);
  }
  const ready = state === 'ready' ? NODES.length : 0;
  await fake.apply({ ...ds, status: { observedGeneration: ds.metadata.generation ?? 1, desiredNumberScheduled: NODES.length, currentNumberScheduled: NODES.length, numberReady: ready, updatedNumberScheduled: NODES.length, numberMisscheduled: 0 } } as KubeObject);
}

test('deploy creates the objects; with no gadget pod scheduled the wait ends in one line saying so', async () => {
  const r = await kg(['deploy', '--image', 'registry.example/ig:v1', '--timeout', '2']);
  assert.equal(r.code, 1);
  for (const what of ['namespace gadget', 'serviceaccount gadget/gadget', 'configmap gadget/gadget', 'clusterrole gadget-cluster-role', 'clusterrolebinding gadget-cluster-role-binding', 'role gadget/gadget-role', 'rolebinding gadget/gadget-role-binding', 'daemonset gadget/gadget']) {
    assert.match(r.stdout, new RegExp(`^created ${what}$`, 'm'));
  }
  assert.equal(r.stderr, 'Error: timed out after 2s waiting for the gadget pods: 0 of 0 ready; the DaemonSet schedules no pod (no node matches?) (see kubectl -n gadget describe pods -l k8s-app=gadget; --timeout to wait longer)\n');
  const ds = await fake.get('apps/v1', 'DaemonSet', 'gadget', 'gadget') as KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } };
  assert.equal(ds.spec.template.spec.containers[0]!.image, 'registry.example/ig:v1');
  const cm = await fake.get('v1', 'ConfigMap', 'gadget', 'gadget') as KubeObject & { data: Record<string, string> };
  assert.match(cm.data['config.yaml']!, /operator:/);
});

test('deploy again updates; pods that do not become ready are named with their reason; ready pods end the wait', async () => {
  const cfg = join(dir, 'daemon.yaml');
  writeFileSync(cfg, 'operator:\n  oci:\n    verify-image: true\n');
  await controller('pulling');
  const r = await kg(['deploy', '--image', 'registry.example/ig:v2', '--daemon-config', cfg, '--timeout', '2']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^updated daemonset gadget\/gadget$/m);
  assert.match(r.stdout, /^updated configmap gadget\/gadget$/m);
  assert.match(r.stderr, /^Error: timed out after 2s waiting for the gadget pods: 0 of 2 ready; not ready: gadget-node-a on node-a \(ImagePullBackOff: Back-off pulling image "registry\.example\/ig:v1"\), gadget-node-b on node-b \(ImagePullBackOff: .*\) \(see kubectl -n gadget describe pods -l k8s-app=gadget; --timeout to wait longer\)\n$/);
  assert.equal(r.stderr.split('\n').length, 2);
  const cm = await fake.get('v1', 'ConfigMap', 'gadget', 'gadget') as KubeObject & { data: Record<string, string> };
  assert.equal(cm.data['config.yaml'], readFileSync(cfg, 'utf8'));
  // The pods become ready while deploy waits.
  const p = new IgProcess(['--kubeconfig', fake.kubeconfigPath, 'deploy', '--image', 'registry.example/ig:v2', '--timeout', '60'], undefined, { main: KG_MAIN });
  const deadline = Date.now() + 30000;
  while (!/waiting up to/.test(p.stdout)) {
    assert.ok(Date.now() < deadline, `deploy did not get to its wait: ${p.stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  await controller('ready');
  const done = await p.wait();
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /^ig is deployed: 2 of 2 gadget pods ready$/m);
});

test('RBAC forbidden and an unreachable API server: one line each', async () => {
  await fake.forbid({ verb: 'create', resource: 'apps/daemonsets', namespace: 'gadget' });
  await fake.forbid({ verb: 'update', resource: 'apps/daemonsets', namespace: 'gadget' });
  try {
    const r = await kg(['deploy', '--image', 'registry.example/ig:v3', '--wait=false']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: (creating|updating) daemonset gadget\/gadget: forbidden: .*daemonsets/);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  } finally {
    await fake.allowAll();
  }
  await fake.forbid({ verb: 'list', resource: 'pods', namespace: 'gadget' });
  try {
    const r = await kg(['list']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: listing the gadget pods in namespace gadget: forbidden: /);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  } finally {
    await fake.allowAll();
  }
  // The same kubeconfig, pointing at a port nothing listens on.
  const port = await freePort();
  const dead = join(dir, 'dead.kubeconfig');
  writeFileSync(dead, readFileSync(fake.kubeconfigPath, 'utf8').replace(/server: https:\/\/[^\s]+/, `server: https://127.0.0.1:${port}`));
  for (const args of [['list'], ['deploy', '--wait=false'], ['undeploy']]) {
    const r = await kg(args, dead);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, new RegExp(`^Error: .*cannot reach the Kubernetes API server at https://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\n$`), `${args.join(' ')}: ${r.stderr}`);
  }
});

test('undeploy removes everything; a second undeploy says there is nothing', async () => {
  const r = await kg(['undeploy', '--timeout', '10']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^deleted daemonset gadget\/gadget$/m);
  assert.match(r.stdout, /^deleted clusterrole gadget-cluster-role$/m);
  assert.match(r.stdout, /^ig is undeployed$/m);
  assert.equal(await fake.get('v1', 'Namespace', undefined, 'gadget'), undefined);
  assert.equal(await fake.get('rbac.authorization.k8s.io/v1', 'ClusterRole', undefined, 'gadget-cluster-role'), undefined);
  const again = await kg(['undeploy']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'ig is not deployed (nothing to delete)\n');
});
