// src/kube against the FAKE Kubernetes API server with the real client: this node's pods with owners resolved
// (ReplicaSet → Deployment, Job → CronJob), later pods, deletes, 410 Gone re-lists, the cluster inventory by IP,
// and the bad cases (no configuration, unreachable server, RBAC forbidden for pods or for owners): one line each,
// no exception, empty enrichment while it lasts, recovery when the cause goes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeKubeApiServer, objects, type FakeKubeApiServer } from '../fakes/kube-apiserver/index.js';
import { KubeConfigError, kubeSourcesFromEnv, loadKubeConfig } from '../../src/kube/index.js';
import type { KubeLog, PodInfo } from '../../src/operators/common/pod-source.js';

let fake: FakeKubeApiServer;
const dep = objects.deployment({ name: 'web', namespace: 'shop', selector: { app: 'web' } });
const rs = objects.replicaSet({ name: 'web-5d8f', namespace: 'shop', selector: { app: 'web' }, owner: dep });
const cj = objects.cronJob({ name: 'nightly', namespace: 'ops' });
const job = objects.job({ name: 'nightly-2900', namespace: 'ops', owner: cj });
const webPod = objects.pod({ name: 'web-5d8f-x1', namespace: 'shop', nodeName: 'node-1', labels: { app: 'web', tier: 'front' }, owner: rs, containers: [{ name: 'nginx', containerID: 'abc123' }], podIP: '10.244.1.5', hostIP: '192.0.2.11' });
const jobPod = objects.pod({ name: 'nightly-2900-q', namespace: 'ops', nodeName: 'node-1', owner: job, containers: [{ name: 'task', containerID: 'def456' }], podIP: '10.244.1.6' });
const otherNode = objects.pod({ name: 'db-0', namespace: 'shop', nodeName: 'node-2', labels: { app: 'db' }, containers: [{ name: 'pg' }], podIP: '10.244.2.9' });
const hostNetPod = objects.pod({ name: 'proxy', namespace: 'kube-system', nodeName: 'node-1', hostNetwork: true, containers: [{ name: 'p' }], podIP: '192.0.2.11' });
const svc = objects.service({ name: 'web', namespace: 'shop', clusterIP: '10.96.7.7', selector: { app: 'web' }, labels: { team: 'a' } });

class Log implements KubeLog {
  warns: string[] = [];
  debugs: string[] = [];
  warn(m: string) { this.warns.push(m); }
  debug(m: string) { this.debugs.push(m); }
}

function waitFor(cond: () => boolean, what: string, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => (cond() ? resolve() : Date.now() > end ? reject(new Error(`timed out waiting for ${what}`)) : setTimeout(tick, 25));
    tick();
  });
}

before(async () => {
  fake = await startFakeKubeApiServer({ objects: [objects.node('node-1'), objects.node('node-2'), dep, rs, cj, job, webPod, jobPod, otherNode, hostNetPod, svc] });
});
after(async () => { await fake.stop(); });

const env = () => ({ NODE_NAME: 'node-1', KUBECONFIG: fake.kubeconfigPath, HOME: '/nonexistent' });

test('this node\'s pods, joined by uid and name, with labels and top owners (Deployment, CronJob)', async () => {
  const log = new Log();
  const kube = (await kubeSourcesFromEnv((m) => log.warn(m), env()))!;
  assert.equal(kube.node, 'node-1');
  const pods = kube.pods();
  await pods.start(log);
  try {
    assert.deepEqual(pods.list().map((p) => p.name).sort(), ['nightly-2900-q', 'proxy', 'web-5d8f-x1']);
    const w = pods.byUid(webPod.metadata.uid!)!;
    assert.deepEqual({ ns: w.namespace, labels: w.labels, kind: w.ownerKind, name: w.ownerName, c: w.containerIds.get('abc123'), hostNetwork: w.hostNetwork },
      { ns: 'shop', labels: { app: 'web', tier: 'front' }, kind: 'Deployment', name: 'web', c: 'nginx', hostNetwork: false });
    const j = pods.byName('ops', 'nightly-2900-q')!;
    assert.deepEqual([j.ownerKind, j.ownerName], ['CronJob', 'nightly']);
    assert.equal(pods.byName('kube-system', 'proxy')!.hostNetwork, true);
    assert.deepEqual(log.warns, []);
    // The list and the watch asked only for this node's pods.
    let reqs = (await fake.requests()).filter((r) => r.path === '/api/v1/pods');
    for (let i = 0; i < 100 && !reqs.some((r) => r.verb === 'watch'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      reqs = (await fake.requests()).filter((r) => r.path === '/api/v1/pods');
    }
    assert.ok(reqs.some((r) => r.verb === 'list') && reqs.some((r) => r.verb === 'watch'), JSON.stringify(reqs));
    for (const r of reqs) assert.equal(r.query.fieldSelector, 'spec.nodeName=node-1');

    // Later pods, label changes and deletes arrive as changes.
    const changes: string[] = [];
    pods.onChange((p: PodInfo, c) => changes.push(`${c} ${p.name} ${p.labels.v ?? ''}`));
    const late = objects.pod({ name: 'late', namespace: 'shop', nodeName: 'node-1', owner: rs, containers: [{ name: 'c', containerID: 'late1' }] });
    await fake.apply(late);
    await waitFor(() => changes.includes('add late '), 'late pod');
    assert.equal(pods.byName('shop', 'late')!.ownerKind, 'Deployment');
    await fake.apply({ ...late, metadata: { ...late.metadata, labels: { v: '2' } } });
    await waitFor(() => changes.includes('update late 2'), 'late pod relabelled');
    await fake.remove('v1', 'Pod', 'shop', 'late');
    await waitFor(() => changes.some((c) => c.startsWith('delete late')), 'late pod deleted');
    assert.equal(pods.byName('shop', 'late'), undefined);

    // 410 Gone: the watch resumes with an expired resourceVersion, lists again, and follows on.
    await fake.expireWatches();
    const gone = objects.pod({ name: 'after-410', namespace: 'shop', nodeName: 'node-1', containers: [{ name: 'c' }] });
    await fake.apply(gone);
    await waitFor(() => pods.byName('shop', 'after-410') !== undefined, 'pod after 410');
    assert.ok(log.debugs.some((d) => /expired \(410 Gone\); listing again/.test(d)), log.debugs.join('\n'));
    await fake.remove('v1', 'Pod', 'shop', 'after-410');
  } finally {
    await pods.stop();
  }
});

test('the cluster inventory: pods and services by IP (host-network pods marked), pods by name', async () => {
  const log = new Log();
  const kube = (await kubeSourcesFromEnv((m) => log.warn(m), env()))!;
  const inv = kube.inventory();
  await inv.start(log);
  try {
    assert.equal(inv.podByIp('10.244.2.9')?.name, 'db-0');
    assert.equal(inv.podByIp('10.244.1.5')?.name, 'web-5d8f-x1');
    assert.equal(inv.podByIp('192.0.2.11')?.hostNetwork, true);
    assert.deepEqual(inv.serviceByIp('10.96.7.7'), { namespace: 'shop', name: 'web', labels: { team: 'a' }, selector: { app: 'web' }, clusterIPs: ['10.96.7.7'] });
    assert.equal(inv.serviceByIp('10.96.0.1')?.name, 'kubernetes');
    assert.equal(inv.podByIp('203.0.113.1'), undefined);
    assert.equal(inv.podByName('shop', 'web-5d8f-x1')?.hostIP, '192.0.2.11');
    let changed = 0;
    inv.onChange(() => changed++);
    await fake.apply(objects.service({ name: 'late-svc', namespace: 'shop', clusterIP: '10.96.8.8' }));
    await waitFor(() => inv.serviceByIp('10.96.8.8') !== undefined, 'late service');
    assert.ok(changed > 0);
    assert.deepEqual(log.warns, []);
  } finally {
    await inv.stop();
  }
});

test('no configuration, a missing kubeconfig, a bad kubeconfig, in-cluster without token: one line each', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-kube-cfg-'));
  try {
    await assert.rejects(loadKubeConfig({ HOME: dir }), (e: Error) => e instanceof KubeConfigError
      && e.message === 'no Kubernetes configuration: KUBECONFIG is not set, KUBERNETES_SERVICE_HOST is not set (not in a cluster) and ~/.kube/config does not exist');
    await assert.rejects(loadKubeConfig({ KUBECONFIG: join(dir, 'nope') }), { message: `kubeconfig ${join(dir, 'nope')} (KUBECONFIG): file not found` });
    writeFileSync(join(dir, 'bad'), 'apiVersion: v1\nkind: Config\nclusters: [\n');
    await assert.rejects(loadKubeConfig({ KUBECONFIG: join(dir, 'bad') }), (e: Error) => e instanceof KubeConfigError && e.message.startsWith(`kubeconfig ${join(dir, 'bad')} (KUBECONFIG): `) && !e.message.includes('\n'));
    await assert.rejects(loadKubeConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1', IG_KUBE_SERVICEACCOUNT_ROOT: dir }),
      { message: `in-cluster Kubernetes config: service account token ${dir}/var/run/secrets/kubernetes.io/serviceaccount/token not found (is a service account mounted?)` });
    // NODE_NAME without configuration: a warning, and the run goes on without Kubernetes sources.
    const warns: string[] = [];
    assert.equal(await kubeSourcesFromEnv((m) => warns.push(m), { NODE_NAME: 'n1', HOME: dir }), undefined);
    assert.equal(warns.length, 1);
    assert.match(warns[0]!, /^NODE_NAME=n1 asks for Kubernetes enrichment, but no Kubernetes configuration: .*; continuing with container-runtime labels only$/);
    // No NODE_NAME: not a cluster node, nothing said.
    assert.equal(await kubeSourcesFromEnv((m) => warns.push(m), { HOME: dir }), undefined);
    assert.equal(warns.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in-cluster service account (token, CA, KUBERNETES_SERVICE_HOST/PORT, moved root) reaches the API server', async () => {
  const log = new Log();
  const kube = (await kubeSourcesFromEnv((m) => log.warn(m), { NODE_NAME: 'node-1', ...fake.inClusterEnv, IG_KUBE_SERVICEACCOUNT_ROOT: fake.inClusterPrefix, HOME: '/nonexistent' }))!;
  const pods = kube.pods();
  await pods.start(log);
  try {
    assert.equal(pods.byName('shop', 'web-5d8f-x1')?.ownerName, 'web');
    assert.deepEqual(log.warns, []);
  } finally {
    await pods.stop();
  }
});

test('an unreachable API server: one line (not repeated by the retries), nothing known, no exception', async () => {
  // A port nobody listens on (taken, then freed).
  const probe = await startFakeKubeApiServer();
  const { url, kubeconfigPath: _k } = probe;
  const dir = mkdtempSync(join(tmpdir(), 'ig-kube-unreach-'));
  const cfg = join(dir, 'kubeconfig');
  const { readFileSync } = await import('node:fs');
  writeFileSync(cfg, readFileSync(probe.kubeconfigPath, 'utf8'));
  const port = Number(new URL(url).port);
  await probe.stop();
  try {
    const log = new Log();
    const kube = (await kubeSourcesFromEnv((m) => log.warn(m), { NODE_NAME: 'node-1', KUBECONFIG: cfg, HOME: '/nonexistent' }))!;
    const pods = kube.pods();
    await pods.start(log);
    try {
      assert.deepEqual(pods.list(), []);
      assert.equal(log.warns.length, 1, log.warns.join('\n'));
      assert.equal(log.warns[0], `cannot list pods on node node-1: cannot reach the Kubernetes API server at https://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (retrying; Kubernetes enrichment stays empty meanwhile)`);
      // Retries fail the same way: still one line.
      await new Promise((r) => setTimeout(r, 1800));
      assert.equal(log.warns.length, 1, log.warns.join('\n'));
    } finally {
      await pods.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RBAC forbidden: listing pods (one line, retried, recovers) and reading owners (owner left empty)', async () => {
  await fake.forbid({ verb: 'list', resource: 'pods' });
  const log = new Log();
  const kube = (await kubeSourcesFromEnv((m) => log.warn(m), env()))!;
  const pods = kube.pods();
  try {
    await pods.start(log);
    assert.deepEqual(pods.list(), []);
    assert.equal(log.warns.length, 1);
    assert.equal(log.warns[0], `cannot list pods on node node-1: the Kubernetes API server at ${fake.url} answered 403: pods is forbidden: User "system:serviceaccount:gadget:gadget" cannot list resource "pods" in API group "" at the cluster scope (retrying; Kubernetes enrichment stays empty meanwhile)`);
    // The owner lookups are forbidden too when the pods come: those pods have no owner, and say so once.
    await fake.forbid({ verb: 'get', resource: 'apps/replicasets' });
    await fake.allow({ verb: 'list', resource: 'pods' });
    await waitFor(() => pods.list().length === 3, 'pods once listing is allowed');
    const w = pods.byName('shop', 'web-5d8f-x1')!;
    assert.deepEqual([w.ownerKind, w.ownerName], ['', '']);
    assert.deepEqual([pods.byName('ops', 'nightly-2900-q')!.ownerKind], ['CronJob']);
    assert.ok(log.warns.some((m) => m === `Kubernetes API server at ${fake.url} is answering again: following pods on node node-1`), log.warns.join('\n'));
    const ownerWarn = log.warns.filter((m) => m.startsWith('cannot resolve the owner of pod shop/web-5d8f-x1 (ReplicaSet web-5d8f): '));
    assert.equal(ownerWarn.length, 1, log.warns.join('\n'));
    assert.match(ownerWarn[0]!, /answered 403: replicasets.apps "web-5d8f" is forbidden: .*; its k8s.owner stays empty$/);
  } finally {
    await pods.stop();
    await fake.allowAll();
  }
});

test('runs share one pod source per process: one list and watch, warnings to every current run, stopped with the last', async () => {
  const kube = (await kubeSourcesFromEnv(() => undefined, env()))!;
  const before = (await fake.requests()).filter((r) => r.path === '/api/v1/pods' && r.verb === 'list').length;
  const [logA, logB] = [new Log(), new Log()];
  const a = kube.pods();
  const b = kube.pods();
  await a.start(logA);
  await b.start(logB);
  assert.equal((await fake.requests()).filter((r) => r.path === '/api/v1/pods' && r.verb === 'list').length, before + 1);
  assert.equal(b.byName('shop', 'web-5d8f-x1')?.ownerName, 'web');
  for (let i = 0; i < 100 && (await fake.watchCount()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  const watches = await fake.watchCount();
  assert.ok(watches >= 1);
  await a.stop();
  // B still follows: a pod added now reaches it.
  await fake.apply(objects.pod({ name: 'shared', namespace: 'shop', nodeName: 'node-1', containers: [{ name: 'c' }] }));
  await waitFor(() => b.byName('shop', 'shared') !== undefined, 'pod seen by the remaining run');
  // A failure now is told to B only (A has ended).
  await fake.forbid({ verb: 'list', resource: 'pods' });
  await fake.expireWatches();
  await waitFor(() => logB.warns.length > 0, 'warning to the remaining run');
  assert.equal(logA.warns.length, 0);
  await fake.allowAll();
  await b.stop();
  for (let i = 0; i < 100 && (await fake.watchCount()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await fake.watchCount(), 0, 'the last stop ends the watch');
  await fake.remove('v1', 'Pod', 'shop', 'shared');
});
