/**
 * KubeManager end to end: real containerd containers in namespace k8s.io with the CRI labels the kubelet's CRI
 * plugin sets, their pods (owned by a ReplicaSet owned by a Deployment) in the FAKE Kubernetes API server, and
 * `ig run trace_open -o json` as a node of that cluster (NODE_NAME + KUBECONFIG). Checks the k8s.* fields, the
 * label selector in the kernel (the filter map holds exactly the selected containers' mount namespaces, also for
 * pods and containers that come later), a pod deleted while its container runs, and bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../harness/containerd.js';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { waitFor } from '../containers/proc-util.js';
import { bpfObjectsOf, mapExists, mapKeysU64, mntnsFilterMapId, mntnsOf, progExists } from '../localmanager/helpers.js';
import { startFakeKubeApiServer, objects, type FakeKubeApiServer, type KubeObject } from '../fakes/kube-apiserver/index.js';

type Ev = {
  fname?: string;
  proc: { comm: string; mntns_id: number };
  runtime: { containerName: string; containerId: string };  // CRI containers: containerName is the Kubernetes one
  k8s: { node: string; namespace: string; podName: string; containerName: string; hostnetwork: boolean; podLabels: string; owner: { kind: string; name: string } };
};

const skip = containerdAvailable() ? false : 'needs root, containerd, runc, busybox-static';
const LOOP = 'while true; do cat /etc/hostname; sleep 0.2; done';
const NODE = 'node-h15';

/** The labels containerd's CRI plugin puts on a pod's container. */
function criLabels(pod: KubeObject, container: string): Record<string, string> {
  return {
    'io.kubernetes.pod.uid': pod.metadata.uid!, 'io.kubernetes.pod.namespace': pod.metadata.namespace!,
    'io.kubernetes.pod.name': pod.metadata.name!, 'io.kubernetes.container.name': container, 'io.cri-containerd.kind': 'container',
  };
}

describe('KubeManager with real containerd (k8s.io) and the fake API server', { skip, timeout: 600_000 }, () => {
  let h: ContainerdHarness;
  let fake: FakeKubeApiServer;
  let web: { id: string; pid: number };
  let db: { id: string; pid: number };
  const igs: IgProcess[] = [];
  const progIds = new Set<number>();
  const mapIds = new Set<number>();
  const dep = objects.deployment({ name: 'web', namespace: 'shop', selector: { app: 'web' } });
  const rs = objects.replicaSet({ name: 'web-7c9', namespace: 'shop', selector: { app: 'web' }, owner: dep });
  const webPod = objects.pod({ name: 'web-7c9-abcde', namespace: 'shop', nodeName: NODE, labels: { app: 'web', tier: 'front' }, owner: rs, containers: [{ name: 'nginx', containerID: 'h15-web' }] });
  const dbPod = objects.pod({ name: 'db-0', namespace: 'shop', nodeName: NODE, labels: { app: 'db' }, containers: [{ name: 'pg', containerID: 'h15-db' }] });
  const env = () => ({ NODE_NAME: NODE, KUBECONFIG: fake.kubeconfigPath });
  const flags = () => ['--runtimes', 'containerd', '--containerd-socketpath', h.socket];
  const startIg = (args: string[], extraEnv: Record<string, string> = {}) => {
    const ig = new IgProcess(['run', 'trace_open', '-o', 'json', ...args, ...flags()], { ...env(), ...extraEnv });
    igs.push(ig);
    return ig;
  };
  const noteBpf = (ig: IgProcess) => {
    const o = bpfObjectsOf(ig.pid);
    for (const id of o.progIds) progIds.add(id);
    for (const m of o.maps) mapIds.add(m.id);
  };

  before(async () => {
    fake = await startFakeKubeApiServer({ objects: [objects.node(NODE), dep, rs, webPod, dbPod] });
    h = await startContainerd({ namespace: 'k8s.io' });
    [web, db] = await Promise.all([h.run('h15-web', LOOP, criLabels(webPod, 'nginx')), h.run('h15-db', LOOP, criLabels(dbPod, 'pg'))]);
  });

  after(async () => {
    for (const ig of igs) await ig.stop();
    await h?.stop();
    await fake?.stop();
    for (const id of progIds) assert.equal(progExists(id), false, `BPF program ${id} still loaded`);
    for (const id of mapIds) assert.equal(mapExists(id), false, `BPF map ${id} still exists`);
  });

  test('events carry the pod, namespace, container, labels, node and Deployment owner from the API server', async () => {
    const ig = startIg([]);
    const e = await ig.waitFor<Ev>((x) => x.runtime?.containerId === 'h15-web' && x.fname === '/etc/hostname', () => undefined, { timeoutMs: 30_000 });
    noteBpf(ig);
    assert.deepEqual(e.k8s, {
      node: NODE, namespace: 'shop', podName: 'web-7c9-abcde', containerName: 'nginx', hostnetwork: false,
      podLabels: 'app=web,tier=front', owner: { kind: 'Deployment', name: 'web' },
    });
    const d = await ig.waitFor<Ev>((x) => x.runtime?.containerId === 'h15-db', () => undefined, { timeoutMs: 30_000 });
    assert.deepEqual({ ...d.k8s }, { node: NODE, namespace: 'shop', podName: 'db-0', containerName: 'pg', hostnetwork: false, podLabels: 'app=db', owner: { kind: '', name: '' } });
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  test('--k8s-selector app=web filters in the kernel; a pod listed after its container started joins the filter', async () => {
    const ig = startIg(['--k8s-selector', 'app=web']);
    await ig.waitFor<Ev>((x) => x.runtime?.containerId === 'h15-web', () => undefined, { timeoutMs: 30_000 });
    noteBpf(ig);
    const filterId = mntnsFilterMapId(ig.pid);
    assert.ok(filterId, 'ig holds a mntns filter map');
    assert.deepEqual(mapKeysU64(filterId), [mntnsOf(web.pid)]);

    // A container whose pod the API server does not know yet: not selected (its labels are unknown) ...
    const latePod = objects.pod({ name: 'web-7c9-late', namespace: 'shop', nodeName: NODE, labels: { app: 'web' }, owner: rs, containers: [{ name: 'nginx', containerID: 'h15-late' }] });
    const late = await h.run('h15-late', LOOP, criLabels(latePod, 'nginx'));
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(mapKeysU64(filterId), [mntnsOf(web.pid)]);
    // ... until its pod is listed: then its mount namespace is added and its events come, enriched.
    await fake.apply(latePod);
    await waitFor('late pod in the filter map', () => mapKeysU64(filterId).includes(mntnsOf(late.pid)), 15_000);
    const le = await ig.waitFor<Ev>((x) => x.runtime?.containerId === 'h15-late', () => undefined, { timeoutMs: 30_000 });
    assert.deepEqual([le.k8s.podName, le.k8s.owner.kind, le.k8s.owner.name], ['web-7c9-late', 'Deployment', 'web']);
    // Relabelled away from the selector: out of the map again.
    await fake.apply({ ...latePod, metadata: { ...latePod.metadata, labels: { app: 'other' } } });
    await waitFor('relabelled pod leaves the filter map', () => !mapKeysU64(filterId).includes(mntnsOf(late.pid)), 15_000);
    await h.kill('h15-late');
    await fake.remove('v1', 'Pod', 'shop', 'web-7c9-late');
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    const names = new Set(ig.events<Ev>().map((x) => x.runtime.containerId));
    assert.ok(!names.has('h15-db'), `db events must not arrive: ${[...names].join(', ')}`);
    assert.ok(names.has('h15-web'));
  });

  test('the other selectors (-n, -p, -c) and exclusion select by API-server data', async () => {
    const check = async (args: string[], want: string) => {
      const ig = startIg(args);
      await ig.waitFor<Ev>((x) => x.runtime?.containerId === want, () => undefined, { timeoutMs: 30_000 });
      noteBpf(ig);
      const filterId = mntnsFilterMapId(ig.pid)!;
      assert.deepEqual(mapKeysU64(filterId), [mntnsOf(want === 'h15-web' ? web.pid : db.pid)], args.join(' '));
      const r = await ig.stop();
      assert.equal(r.code, 0, r.stderr);
      for (const x of ig.events<Ev>()) assert.equal(x.runtime.containerId, want, args.join(' '));
    };
    await check(['-p', 'db-0'], 'h15-db');
    await check(['--k8s-containername', 'nginx', '-n', 'shop'], 'h15-web');
    await check(['-l', '!app=web'], 'h15-db');
    await check(['-l', 'app=!web'], 'h15-db');
  });

  test('a pod that disappears while its container runs: its API-server fields go empty, not stale', async () => {
    const ig = startIg(['-p', 'db-0']);
    await ig.waitFor<Ev>((x) => x.k8s?.podLabels === 'app=db', () => undefined, { timeoutMs: 30_000 });
    noteBpf(ig);
    await fake.remove('v1', 'Pod', 'shop', 'db-0');
    const n = ig.events<Ev>().length;
    await waitFor('db events after the pod was deleted', () => ig.events<Ev>().length > n + 10, 30_000);
    const e = ig.events<Ev>().at(-1)!;
    // The runtime's own labels still name the pod; labels and owner are no longer claimed.
    assert.deepEqual(e.k8s, { node: NODE, namespace: 'shop', podName: 'db-0', containerName: 'pg', hostnetwork: false, podLabels: '', owner: { kind: '', name: '' } });
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    await fake.apply(dbPod);
  });

  test('KubeNameResolver: a data source annotated kubenameresolver.enable gets k8s.podIP and k8s.hostIP of its pod', async () => {
    const cur = (await fake.get('v1', 'Pod', 'shop', 'web-7c9-abcde'))!;
    await fake.apply({ ...cur, status: { ...(cur.status as object), podIP: '10.244.3.7', podIPs: [{ ip: '10.244.3.7' }], hostIP: '192.0.2.33' } });
    const ig = startIg(['-p', 'web-7c9-abcde', '--annotate', 'open:kubenameresolver.enable=true']);
    try {
      const e = await ig.waitFor<Ev & { k8s: { podIP?: string; hostIP?: string } }>((x) => x.k8s?.podIP === '10.244.3.7', () => undefined, { timeoutMs: 30_000 });
      noteBpf(ig);
      assert.equal(e.k8s.hostIP, '192.0.2.33');
      assert.equal(e.k8s.podName, 'web-7c9-abcde');
    } finally {
      const r = await ig.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    // Without the annotation the fields are not there.
    const plain = startIg(['-p', 'web-7c9-abcde']);
    const p = await plain.waitFor<Ev & { k8s: Record<string, unknown> }>((x) => x.runtime?.containerId === 'h15-web', () => undefined, { timeoutMs: 30_000 });
    noteBpf(plain);
    assert.equal('podIP' in p.k8s, false);
    await plain.stop();
  });

  test('KubeIPResolver: trace_tcp peers are named as pod, svc or raw (fields and endpoint column), from the cluster inventory', async () => {
    // A pod elsewhere in the cluster and a Service, on loopback addresses the container can connect to (its own
    // network namespace has only lo): 127.0.0.3 is the peer pod, 127.0.0.2 the service's cluster IP.
    await fake.apply(objects.pod({ name: 'api-0', namespace: 'backend', nodeName: 'node-other', labels: { app: 'api' }, containers: [{ name: 'api' }], podIP: '127.0.0.3' }));
    await fake.apply(objects.service({ name: 'web-svc', namespace: 'shop', clusterIP: '127.0.0.2', selector: { app: 'web' }, labels: { team: 'shop' }, ports: [{ port: 80 }] }));
    const clientPod = objects.pod({ name: 'client-0', namespace: 'shop', nodeName: NODE, labels: { app: 'client' }, containers: [{ name: 'nc', containerID: 'h15-nc' }] });
    await fake.apply(clientPod);
    await h.run('h15-nc', 'while true; do nc 127.0.0.2 80 </dev/null; nc 127.0.0.3 8080 </dev/null; nc 127.0.0.9 9 </dev/null; sleep 0.3; done', criLabels(clientPod, 'nc'));
    type Ep = { addr: string; port: number; k8s: { kind: string; name: string; namespace: string; labels: string; podSelector: string } };
    type TcpEv = { src: Ep; dst: Ep; k8s: Ev['k8s'] };
    const ig = new IgProcess(['run', 'trace_tcp', '-o', 'json', '-p', 'client-0', ...flags()], env());
    igs.push(ig);
    try {
      const svc = await ig.waitFor<TcpEv>((e) => e.dst?.addr === '127.0.0.2', () => undefined, { timeoutMs: 30_000 });
      noteBpf(ig);
      assert.deepEqual(svc.dst.k8s, { kind: 'svc', name: 'web-svc', namespace: 'shop', labels: 'team=shop', podSelector: 'app=web' });
      assert.deepEqual(svc.src.k8s, { kind: 'raw', name: '', namespace: '', labels: '', podSelector: '' });
      assert.equal(svc.k8s.podName, 'client-0');
      const pod = await ig.waitFor<TcpEv>((e) => e.dst?.addr === '127.0.0.3', () => undefined, { timeoutMs: 30_000 });
      assert.deepEqual(pod.dst.k8s, { kind: 'pod', name: 'api-0', namespace: 'backend', labels: 'app=api', podSelector: '' });
      const raw = await ig.waitFor<TcpEv>((e) => e.dst?.addr === '127.0.0.9', () => undefined, { timeoutMs: 30_000 });
      assert.equal(raw.dst.k8s.kind, 'raw');
      const r = await ig.stop();
      assert.equal(r.code, 0, r.stderr);
      // Columns: the endpoint column names the peer as upstream does.
      const cols = new IgProcess(['run', 'trace_tcp', '-p', 'client-0', ...flags()], env());
      igs.push(cols);
      await waitFor('columns with s/shop/web-svc:80 and p/backend/api-0:8080', () => cols.stdout.includes('s/shop/web-svc:80') && cols.stdout.includes('p/backend/api-0:8080') && cols.stdout.includes('r/127.0.0.9:9'), 30_000);
      const rc = await cols.stop();
      assert.equal(rc.code, 0, rc.stderr);
    } finally {
      await h.kill('h15-nc');
    }
  });

  test('bad input: a selector with a bad syntax, an unreachable API server, RBAC forbidden, no configuration', async () => {
    const bad = runIgSync(['run', 'trace_open', '--k8s-selector', 'app', ...flags()], { env: env() });
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /app.*should be a comma-separated list of key-value pairs \(key=value\[,key=value,\.\.\.\]\)/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);

    // Forbidden: one warning, events still flow with what the runtime knows.
    await fake.forbid({ verb: 'list', resource: 'pods' });
    try {
      const ig = startIg(['-c', 'nginx']);
      const e = await ig.waitFor<Ev>((x) => x.runtime?.containerId === 'h15-web', () => undefined, { timeoutMs: 30_000 });
      noteBpf(ig);
      assert.deepEqual([e.k8s.podName, e.k8s.containerName, e.k8s.podLabels, e.k8s.owner.kind], ['web-7c9-abcde', 'nginx', '', '']);
      const r = await ig.stop();
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^WARN: KubeManager: cannot list pods on node node-h15: the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ answered 403: pods is forbidden: User .* cannot list resource "pods" in API group "" at the cluster scope \(retrying; Kubernetes enrichment stays empty meanwhile\)$/);
    } finally {
      await fake.allowAll();
    }

    // No configuration at all: one line, and the run keeps the runtime's labels (LocalManager).
    const ig2 = startIg(['-c', 'nginx'], { KUBECONFIG: '/nonexistent/kubeconfig' });
    const e2 = await ig2.waitFor<Ev>((x) => x.runtime?.containerId === 'h15-web', () => undefined, { timeoutMs: 30_000 });
    noteBpf(ig2);
    assert.equal(e2.k8s.podName, 'web-7c9-abcde');
    const r2 = await ig2.stop();
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stderr.trim(), 'WARN: NODE_NAME=node-h15 asks for Kubernetes enrichment, but kubeconfig /nonexistent/kubeconfig (KUBECONFIG): file not found; continuing with container-runtime labels only');

    // Unreachable API server: one line.
    const { readFileSync, writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/ig-h15-unreach-`);
    try {
      writeFileSync(`${dir}/kubeconfig`, readFileSync(fake.kubeconfigPath, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:9'));
      const ig3 = startIg(['-c', 'nginx'], { KUBECONFIG: `${dir}/kubeconfig` });
      await ig3.waitFor<Ev>((x) => x.runtime?.containerId === 'h15-web', () => undefined, { timeoutMs: 30_000 });
      noteBpf(ig3);
      const r3 = await ig3.stop();
      assert.equal(r3.code, 0, r3.stderr);
      assert.equal(r3.stderr.trim(), 'WARN: KubeManager: cannot list pods on node node-h15: cannot reach the Kubernetes API server at https://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9 (retrying; Kubernetes enrichment stays empty meanwhile)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
