// The FAKE Kubernetes API server against the real client (@kubernetes/client-node 1.4): kubeconfig and in-cluster
// connections over TLS with token auth, list/watch with selectors, informers through bookmarks and 410 Gone,
// CRUD/patch/garbage collection, RBAC 403s, and pod port-forward over WebSocket to TCP and unix-socket targets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startFakeKubeApiServer, spawnFakeKubeApiServer, objects, type FakeKubeApiServer, type KubeObject } from './index.js';

let fake: FakeKubeApiServer;
let kc: k8s.KubeConfig;

const rs = objects.replicaSet({ name: 'web-5d8f', namespace: 'shop', selector: { app: 'web' } });
const dep = objects.deployment({ name: 'web', namespace: 'shop', selector: { app: 'web' } });
rs.metadata.ownerReferences = [objects.ownerRef(dep)];
const webPod = objects.pod({ name: 'web-5d8f-abcde', namespace: 'shop', nodeName: 'node-1', labels: { app: 'web' }, owner: rs, containers: [{ name: 'nginx', containerID: 'c0ffee' }], podIP: '10.244.0.7' });
const otherPod = objects.pod({ name: 'db-0', namespace: 'shop', nodeName: 'node-2', labels: { app: 'db' }, containers: [{ name: 'pg' }] });

before(async () => {
  fake = await startFakeKubeApiServer({ objects: [objects.node('node-1'), objects.node('node-2'), dep, rs, webPod, otherPod], bookmarkIntervalMs: 100 });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(fake.kubeconfigPath);
});
after(async () => { await fake.stop(); });

function waitFor(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

test('lists pods with field and label selectors over TLS with a kubeconfig; items carry real metadata', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const onNode = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-1' });
  assert.deepEqual(onNode.items.map((p) => p.metadata?.name), ['web-5d8f-abcde']);
  const p = onNode.items[0]!;
  assert.match(p.metadata!.uid!, /^[0-9a-f-]{36}$/);
  assert.match(p.metadata!.resourceVersion!, /^\d+$/);
  assert.equal(p.metadata!.ownerReferences![0]!.kind, 'ReplicaSet');
  assert.equal(p.status!.containerStatuses![0]!.containerID, 'containerd://c0ffee');
  assert.match(onNode.metadata!.resourceVersion!, /^\d+$/);
  const db = await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app in (db,cache),!missing' });
  assert.deepEqual(db.items.map((x) => x.metadata?.name), ['db-0']);
  const none = await core.listNamespacedPod({ namespace: 'default' });
  assert.equal(none.items.length, 0);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const got = await apps.readNamespacedReplicaSet({ name: 'web-5d8f', namespace: 'shop' });
  assert.equal(got.metadata!.ownerReferences![0]!.name, 'web');
  assert.equal((await kc.makeApiClient(k8s.VersionApi).getCode()).gitVersion, 'v1.30.0-fake');
});

test('bad selectors and unknown field labels are 400 BadRequest Status objects', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await assert.rejects(core.listPodForAllNamespaces({ labelSelector: 'app=(' }), (e: k8s.ApiException<string>) => {
    assert.equal(e.code, 400);
    const st = JSON.parse(e.body) as { kind: string; reason: string; message: string };
    assert.equal(st.kind, 'Status');
    assert.equal(st.reason, 'BadRequest');
    return true;
  });
  await assert.rejects(core.listPodForAllNamespaces({ fieldSelector: 'spec.bogus=1' }), (e: k8s.ApiException<string>) => e.code === 400 && JSON.parse(e.body).message === 'field label not supported: spec.bogus');
});

test('a wrong token is 401; an injected RBAC rule is 403 with the real Status wording', async () => {
  const bad = new k8s.KubeConfig();
  bad.loadFromOptions({ clusters: kc.clusters, contexts: kc.contexts, currentContext: kc.currentContext, users: [{ name: 'fake-user', token: 'wrong' }] });
  await assert.rejects(bad.makeApiClient(k8s.CoreV1Api).listNode(), (e: k8s.ApiException<string>) => e.code === 401);
  await fake.forbid({ verb: 'list', resource: 'pods' });
  try {
    await assert.rejects(kc.makeApiClient(k8s.CoreV1Api).listPodForAllNamespaces(), (e: k8s.ApiException<string>) => {
      assert.equal(e.code, 403);
      const st = JSON.parse(e.body) as { reason: string; message: string; code: number; details: { kind: string } };
      assert.equal(st.reason, 'Forbidden');
      assert.equal(st.code, 403);
      assert.equal(st.details.kind, 'pods');
      assert.equal(st.message, 'pods is forbidden: User "system:serviceaccount:gadget:gadget" cannot list resource "pods" in API group "" at the cluster scope');
      return true;
    });
    // Other verbs and resources still work.
    await kc.makeApiClient(k8s.CoreV1Api).readNamespacedPod({ name: 'db-0', namespace: 'shop' });
    await fake.forbid({ verb: 'get', resource: 'apps/replicasets', namespace: 'shop' });
    await assert.rejects(kc.makeApiClient(k8s.AppsV1Api).readNamespacedReplicaSet({ name: 'web-5d8f', namespace: 'shop' }), (e: k8s.ApiException<string>) =>
      e.code === 403 && JSON.parse(e.body).message === 'replicasets.apps "web-5d8f" is forbidden: User "system:serviceaccount:gadget:gadget" cannot get resource "replicasets" in API group "apps" in the namespace "shop"');
  } finally {
    await fake.allowAll();
  }
});

test('in-cluster config (service-account files + KUBERNETES_SERVICE_HOST/PORT) reaches the fake', async () => {
  const saved = { h: process.env.KUBERNETES_SERVICE_HOST, p: process.env.KUBERNETES_SERVICE_PORT };
  Object.assign(process.env, fake.inClusterEnv);
  try {
    const ic = new k8s.KubeConfig();
    ic.loadFromCluster(fake.inClusterPrefix);
    const nodes = await ic.makeApiClient(k8s.CoreV1Api).listNode();
    assert.deepEqual(nodes.items.map((n) => n.metadata?.name).sort(), ['node-1', 'node-2']);
    assert.equal(ic.getContextObject(ic.getCurrentContext())?.namespace, 'gadget');
  } finally {
    if (saved.h === undefined) delete process.env.KUBERNETES_SERVICE_HOST; else process.env.KUBERNETES_SERVICE_HOST = saved.h;
    if (saved.p === undefined) delete process.env.KUBERNETES_SERVICE_PORT; else process.env.KUBERNETES_SERVICE_PORT = saved.p;
  }
});

test('informer with a node field selector: adds, updates, pods moving out of the selector, deletes', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const inf = new k8s.ListWatch('/api/v1/pods', new k8s.Watch(kc), () => core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-1' }), false, undefined, 'spec.nodeName=node-1');
  const seen: string[] = [];
  inf.on('add', (p) => seen.push(`add ${p.metadata!.name}`));
  inf.on('update', (p) => seen.push(`update ${p.metadata!.name} ${p.metadata!.labels?.v ?? ''}`));
  inf.on('delete', (p) => seen.push(`delete ${p.metadata!.name}`));
  await inf.start();
  try {
    await waitFor(() => seen.includes('add web-5d8f-abcde'), 'initial add');
    await fake.apply(objects.pod({ name: 'late', namespace: 'shop', nodeName: 'node-1', containers: [{ name: 'c' }] }));
    await fake.apply(objects.pod({ name: 'elsewhere', namespace: 'shop', nodeName: 'node-2', containers: [{ name: 'c' }] }));
    await waitFor(() => seen.includes('add late'), 'late pod added');
    const late = (await fake.get('v1', 'Pod', 'shop', 'late'))!;
    await fake.apply({ ...late, metadata: { ...late.metadata, labels: { v: '2' } } });
    await waitFor(() => seen.includes('update late 2'), 'late pod updated');
    // Leaving the selector is a DELETED event for this watch.
    await fake.apply({ ...late, spec: { ...(late.spec as object), nodeName: 'node-2' } });
    await waitFor(() => seen.includes('delete late'), 'late pod left node-1');
    assert.ok(!seen.some((s) => s.includes('elsewhere')), `node-2 pod must not be seen: ${seen.join(', ')}`);
    // The watch request carried the field selector and a resourceVersion.
    const watches = (await fake.requests()).filter((r) => r.verb === 'watch' && r.path === '/api/v1/pods');
    assert.ok(watches.length >= 1);
    assert.equal(watches[0]!.query.fieldSelector, 'spec.nodeName=node-1');
    assert.match(watches[0]!.query.resourceVersion!, /^\d+$/);
  } finally {
    await inf.stop();
    await fake.remove('v1', 'Pod', 'shop', 'late');
    await fake.remove('v1', 'Pod', 'shop', 'elsewhere');
  }
});

test('410 Gone: an expired resourceVersion makes the informer re-list, and it then sees later changes', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let lists = 0;
  const inf = k8s.makeInformer(kc, '/api/v1/namespaces/shop/pods', () => { lists++; return core.listNamespacedPod({ namespace: 'shop' }); });
  const added: string[] = [];
  inf.on('add', (p) => added.push(p.metadata!.name!));
  await inf.start();
  try {
    await waitFor(() => added.includes('db-0') && lists === 1, 'first list');
    // The informer resumes with its old resourceVersion, gets an ERROR event with a 410 Status, and re-lists.
    await fake.expireWatches();
    await waitFor(() => lists >= 2, 're-list after 410');
    await fake.apply(objects.pod({ name: 'after-410', namespace: 'shop', nodeName: 'node-1', containers: [{ name: 'c' }] }));
    await waitFor(() => added.includes('after-410'), 'pod added after re-list');
  } finally {
    await inf.stop();
    await fake.remove('v1', 'Pod', 'shop', 'after-410');
  }
});

test('a raw watch: resourceVersion resume, BOOKMARK with allowWatchBookmarks, ERROR 410 for an expired version', async () => {
  const w = new k8s.Watch(kc);
  const list = await kc.makeApiClient(k8s.CoreV1Api).listNode();
  const rv = list.metadata!.resourceVersion!;
  const events: { type: string; obj: KubeObject }[] = [];
  const req = await w.watch('/api/v1/nodes', { resourceVersion: rv, allowWatchBookmarks: true }, (type, obj) => events.push({ type, obj }), () => undefined);
  try {
    await fake.apply(objects.node('node-3'));
    await waitFor(() => events.some((e) => e.type === 'ADDED' && e.obj.metadata.name === 'node-3'), 'node-3 ADDED');
    await waitFor(() => events.some((e) => e.type === 'BOOKMARK'), 'a BOOKMARK');
    const bm = events.find((e) => e.type === 'BOOKMARK')!;
    assert.equal(bm.obj.kind, 'Node');
    assert.ok(Number(bm.obj.metadata.resourceVersion) >= Number(rv));
    await fake.remove('v1', 'Node', undefined, 'node-3');
    await waitFor(() => events.some((e) => e.type === 'DELETED' && e.obj.metadata.name === 'node-3'), 'node-3 DELETED');
  } finally {
    req.abort();
  }
  // Expired: ERROR event carrying a 410 Expired Status, then the stream ends.
  await fake.expireWatches();
  const errs: { type: string; obj: { code?: number; reason?: string } }[] = [];
  let ended = false;
  await w.watch('/api/v1/nodes', { resourceVersion: rv }, (type, obj) => errs.push({ type, obj }), () => { ended = true; });
  await waitFor(() => ended, 'expired watch to end');
  assert.equal(errs[0]?.type, 'ERROR');
  assert.equal(errs[0]?.obj.code, 410);
  assert.equal(errs[0]?.obj.reason, 'Expired');
});

test('create/read/patch/delete through KubernetesObjectApi (discovery), namespaces required, garbage collection', async () => {
  const oa = k8s.KubernetesObjectApi.makeApiClient(kc);
  await assert.rejects(oa.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'x', namespace: 'gadget' } }), (e: k8s.ApiException<string>) => e.code === 404 && JSON.parse(e.body).message === 'namespaces "gadget" not found');
  await oa.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gadget' } });
  const made = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'gadget', namespace: 'gadget' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gadget', namespace: 'gadget' }, data: { 'config.yaml': 'operator: {}\n' } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'gadget-cluster-role' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'gadget-cluster-role-binding' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gadget-cluster-role' }, subjects: [{ kind: 'ServiceAccount', name: 'gadget', namespace: 'gadget' }] },
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'gadget', namespace: 'gadget' }, spec: { selector: { matchLabels: { k8sApp: 'gadget' } }, template: { metadata: { labels: { k8sApp: 'gadget' } }, spec: { containers: [{ name: 'gadget', image: 'ig:test' }] } } } },
  ];
  for (const o of made) {
    const c = await oa.create(o as k8s.KubernetesObject);
    assert.match(c.metadata!.uid!, /^[0-9a-f-]{36}$/);
  }
  await assert.rejects(oa.create(made[1]!), (e: k8s.ApiException<string>) => e.code === 409 && JSON.parse(e.body).reason === 'AlreadyExists');
  const ds = await oa.read({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'gadget', namespace: 'gadget' } });
  assert.equal(ds.kind, 'DaemonSet');
  // A "controller" (the test) sets status; readiness waits read it back.
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  await apps.patchNamespacedDaemonSetStatus({ name: 'gadget', namespace: 'gadget', body: { status: { desiredNumberScheduled: 2, numberReady: 2, currentNumberScheduled: 2, numberMisscheduled: 0 } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  assert.equal((await apps.readNamespacedDaemonSet({ name: 'gadget', namespace: 'gadget' })).status?.numberReady, 2);
  await oa.patch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gadget', namespace: 'gadget' }, data: { extra: '1' } }, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
  const cm = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedConfigMap({ name: 'gadget', namespace: 'gadget' });
  assert.deepEqual(cm.data, { 'config.yaml': 'operator: {}\n', extra: '1' });
  // Pods owned by the DaemonSet go with it; everything in the namespace goes with the namespace.
  const dsObj = (await fake.get('apps/v1', 'DaemonSet', 'gadget', 'gadget'))!;
  await fake.apply(objects.pod({ name: 'gadget-abc', namespace: 'gadget', nodeName: 'node-1', owner: dsObj, containers: [{ name: 'gadget' }] }));
  await oa.delete({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'gadget', namespace: 'gadget' } });
  assert.equal(await fake.get('v1', 'Pod', 'gadget', 'gadget-abc'), undefined);
  await oa.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gadget' } });
  assert.equal(await fake.get('v1', 'ServiceAccount', 'gadget', 'gadget'), undefined);
  await oa.delete(made[2]!);
  await oa.delete(made[3]!);
});

test('list pagination with limit and continue', async () => {
  for (let i = 0; i < 5; i++) await fake.apply(objects.configMap({ name: `page-${i}`, namespace: 'paging', data: {} }));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const names: string[] = [];
  let cont: string | undefined;
  let pages = 0;
  do {
    const page = await core.listNamespacedConfigMap({ namespace: 'paging', limit: 2, _continue: cont });
    names.push(...page.items.map((c) => c.metadata!.name!));
    cont = page.metadata?._continue;
    pages++;
  } while (cont);
  assert.equal(pages, 3);
  assert.deepEqual(names, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
});

async function echoServer(listenOn: number | string): Promise<Server> {
  const s = createServer((c) => c.on('data', (d) => c.write(Buffer.concat([Buffer.from('echo:'), d]))));
  await new Promise<void>((resolve) => (typeof listenOn === 'string' ? s.listen(listenOn, resolve) : s.listen(listenOn, '127.0.0.1', resolve)));
  return s;
}

async function forwardOnce(podNs: string, podName: string, port: number, payload: string): Promise<{ out: string; err: string }> {
  const pf = new k8s.PortForward(kc);
  const out = new PassThrough();
  const err = new PassThrough();
  const input = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (d: Buffer) => { outText += d.toString(); });
  err.on('data', (d: Buffer) => { errText += d.toString(); });
  const ws = await pf.portForward(podNs, podName, [port], out, err, input) as unknown as { close(): void; readyState: number; protocol: string };
  assert.equal(ws.protocol, 'v4.channel.k8s.io');
  input.write(payload);
  await waitFor(() => outText.includes(payload) || errText !== '', 'forwarded answer');
  ws.close();
  return { out: outText, err: errText };
}

test('pod port-forward over WebSocket (v4.channel.k8s.io) to a TCP target and to a unix socket; errors on the error channel', async () => {
  const tcp = await echoServer(0);
  const dir = mkdtempSync(join(tmpdir(), 'ig-fake-kube-pf-'));
  const sockPath = join(dir, 'daemon.sock');
  const unix = await echoServer(sockPath);
  try {
    const addr = tcp.address() as { port: number };
    await fake.setPortForward('shop', 'web-5d8f-abcde', { host: '127.0.0.1', port: addr.port }, 8080);
    await fake.setPortForward('shop', 'db-0', { path: sockPath });
    assert.deepEqual(await forwardOnce('shop', 'web-5d8f-abcde', 8080, 'hello-tcp'), { out: 'echo:hello-tcp', err: '' });
    assert.deepEqual(await forwardOnce('shop', 'db-0', 5432, 'hello-unix'), { out: 'echo:hello-unix', err: '' });
    // No target registered for that port: the kubelet's wording on the error channel.
    const r = await forwardOnce('shop', 'web-5d8f-abcde', 9999, 'x');
    assert.equal(r.out, '');
    assert.match(r.err, /^error forwarding port 9999 to pod web-5d8f-abcde, uid [0-9a-f-]+: /);
    // A missing pod refuses the upgrade.
    await assert.rejects(new k8s.PortForward(kc).portForward('shop', 'nope', [1], new PassThrough(), new PassThrough(), new PassThrough()));
  } finally {
    tcp.close();
    unix.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the fake as a separate process: kubeconfig works, admin control works, SIGTERM by PID stops it', async () => {
  const p = await spawnFakeKubeApiServer(['--bookmark-interval-ms', '0']);
  try {
    const c = new k8s.KubeConfig();
    c.loadFromFile(p.info.kubeconfigPath);
    await p.control.apply(objects.pod({ name: 'remote', namespace: 'x', nodeName: 'n', containers: [{ name: 'c' }] }));
    const pods = await c.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'x' });
    assert.deepEqual(pods.items.map((i) => i.metadata?.name), ['remote']);
    await p.control.forbid({ verb: 'list', resource: 'nodes' });
    await assert.rejects(c.makeApiClient(k8s.CoreV1Api).listNode(), (e: k8s.ApiException<string>) => e.code === 403);
    assert.ok((await p.control.requests()).some((r) => r.status === 403));
    assert.equal(p.info.pid, p.child.pid);
  } finally {
    await p.stop();
  }
  assert.equal(p.child.signalCode ?? p.child.exitCode, 0);
});
