// `kubectl-gadget deploy --print-only` emits manifests that validate against Kubernetes' OpenAPI schemas (the
// kubernetes-models package: the API's JSON schemas per kind, compiled). No API server: kubectl needs one even for
// a client dry run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Namespace, ServiceAccount, ConfigMap } from 'kubernetes-models/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { repoRoot } from '../harness/ig.js';

const MAIN = join(repoRoot(), 'dist', 'src', 'cli', 'kubectl-gadget', 'main.js');

function kg(args: string[]) {
  // No kubeconfig anywhere: --print-only must not need a cluster.
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30000, env: { ...process.env, KUBECONFIG: '', HOME: tmpdir() } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': Namespace, 'v1/ServiceAccount': ServiceAccount, 'v1/ConfigMap': ConfigMap,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole, 'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role, 'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'apps/v1/DaemonSet': DaemonSet,
};

function validate(o: Record<string, unknown>): void {
  const M = MODELS[`${String(o['apiVersion'])}/${String(o['kind'])}`];
  assert.ok(M, `no schema for ${String(o['apiVersion'])} ${String(o['kind'])}`);
  new M(o as never).validate();
}

function docs(yamlText: string): Record<string, unknown>[] {
  return parseAllDocuments(yamlText).map((d) => {
    assert.equal(d.errors.length, 0, String(d.errors[0]));
    return d.toJS() as Record<string, unknown>;
  }).filter((d) => d !== null);
}

test('deploy --print-only: every manifest validates against its Kubernetes OpenAPI schema', () => {
  const r = kg(['deploy', '--print-only', '--image', 'registry.example:5000/ig/ig:v0.1.0']);
  assert.equal(r.code, 0, r.stderr);
  const objs = docs(r.stdout);
  assert.deepEqual(objs.map((o) => o['kind']), ['Namespace', 'ServiceAccount', 'ConfigMap', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'DaemonSet']);
  for (const o of objs) validate(o);
  const ds = objs.at(-1) as { metadata: { namespace: string }; spec: { template: { spec: { hostPID: boolean; containers: { image: string; imagePullPolicy: string; command: string[]; volumeMounts: { mountPath: string }[]; securityContext: { privileged: boolean } }[] } } } };
  assert.equal(ds.metadata.namespace, 'gadget');
  const pod = ds.spec.template.spec;
  const c = pod.containers[0]!;
  assert.equal(c.image, 'registry.example:5000/ig/ig:v0.1.0');
  assert.equal(c.imagePullPolicy, 'IfNotPresent');
  assert.equal(pod.hostPID, true);
  assert.equal(c.securityContext.privileged, true);
  assert.deepEqual(c.volumeMounts.map((m) => m.mountPath).sort(), ['/etc/ig', '/run', '/sys/fs/bpf', '/sys/fs/cgroup', '/sys/kernel/debug']);
  // The daemon serves the port the clients' port-forward reaches, with the ConfigMap's config file.
  assert.ok(c.command.join(' ').includes('daemon --host tcp://127.0.0.1:8080'), c.command.join(' '));
  assert.ok(c.command.includes('/etc/ig/config.yaml'));
});

test('deploy --print-only: --daemon-config lands in the ConfigMap, --gadget-namespace everywhere, :latest pulls Always', () => {
  const dir = mkdtempSync(join(tmpdir(), 'h15deploy-manifests-'));
  try {
    const cfg = join(dir, 'daemon.yaml');
    writeFileSync(cfg, 'operator:\n  oci:\n    verify-image: true\n');
    const r = kg(['deploy', '--print-only', '--image', 'example.org/ig:latest', '--daemon-config', cfg, '--gadget-namespace', 'ig-system']);
    assert.equal(r.code, 0, r.stderr);
    const objs = docs(r.stdout);
    for (const o of objs) validate(o);
    const cm = objs.find((o) => o['kind'] === 'ConfigMap') as { data: Record<string, string> };
    assert.equal(cm.data['config.yaml'], 'operator:\n  oci:\n    verify-image: true\n');
    for (const o of objs) {
      const m = o['metadata'] as { name: string; namespace?: string };
      if (o['kind'] === 'Namespace') assert.equal(m.name, 'ig-system');
      else if (!String(o['kind']).startsWith('Cluster')) assert.equal(m.namespace, 'ig-system', `${String(o['kind'])} ${m.name}`);
    }
    const crb = objs.find((o) => o['kind'] === 'ClusterRoleBinding') as { subjects: { namespace: string }[] };
    assert.equal(crb.subjects[0]!.namespace, 'ig-system');
    const ds = objs.find((o) => o['kind'] === 'DaemonSet') as { spec: { template: { spec: { containers: { imagePullPolicy: string }[] } } } };
    assert.equal(ds.spec.template.spec.containers[0]!.imagePullPolicy, 'Always');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the schema check is real: a broken DaemonSet is rejected', () => {
  const objs = docs(kg(['deploy', '--print-only']).stdout);
  const ds = structuredClone(objs.at(-1)!) as { spec: { template: { spec: { containers: unknown } } } };
  ds.spec.template.spec.containers = [{ image: 'x' }]; // a container needs a name
  assert.throws(() => validate(ds as unknown as Record<string, unknown>));
  const ds2 = structuredClone(objs.at(-1)!) as { spec: Record<string, unknown> };
  ds2.spec['selector'] = 'k8s-app=gadget'; // a LabelSelector is an object
  assert.throws(() => validate(ds2 as unknown as Record<string, unknown>));
});

test('deploy: bad input is one clear line', () => {
  for (const [args, want] of [
    [['deploy', '--print-only', '--image', 'a b'], /^Error: invalid value "a b" for --image/],
    [['deploy', '--print-only', '--image-pull-policy', 'Sometimes'], /^Error: invalid value "Sometimes" for --image-pull-policy/],
    [['deploy', '--print-only', '--daemon-config', '/nonexistent/h15deploy.yaml'], /^Error: cannot read --daemon-config \/nonexistent\/h15deploy.yaml: no such file/],
    [['deploy', '--print-only', '--timeout', 'soon'], /^Error: invalid value "soon" for --timeout/],
    [['deploy'], /^Error: no Kubernetes configuration: pass --kubeconfig FILE, set KUBECONFIG, or create ~\/.kube\/config/],
    [['list', '--kubeconfig', '/nonexistent/h15deploy-kubeconfig'], /^Error: kubeconfig \/nonexistent\/h15deploy-kubeconfig does not exist/],
  ] as [string[], RegExp][]) {
    const r = kg(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, want, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
  }
});
