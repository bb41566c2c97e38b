// Create (or update) the deployment's objects through the API server, wait until a gadget pod runs ready on every
// node the DaemonSet schedules, and remove everything again. Typed API groups, no discovery round trips.
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api, type KubeConfig, type V1DaemonSet, type V1Pod } from '@kubernetes/client-node';
import { GADGET_LABEL_SELECTOR, GADGET_NAME, GADGET_NAMESPACE, type KubeObject } from './manifests.js';
import { isConflict, isNotFound, KubeError, kubeErrorLine } from './kubeconfig.js';

interface Apis { core: CoreV1Api; apps: AppsV1Api; rbac: RbacAuthorizationV1Api; server: string }

function apis(kc: KubeConfig): Apis {
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), rbac: kc.makeApiClient(RbacAuthorizationV1Api), server: kc.getCurrentCluster()?.server ?? '' };
}

type Ops = { create(): Promise<unknown>; read(): Promise<{ metadata?: { resourceVersion?: string } }>; replace(body: unknown): Promise<unknown>; remove(): Promise<unknown> };

/* eslint-disable @typescript-eslint/no-explicit-any -- the typed clients take their own model types; ours are the same JSON */
function opsOf(a: Apis, o: KubeObject): Ops {
  const name = o.metadata.name;
  const namespace = o.metadata.namespace ?? GADGET_NAMESPACE;
  const body = o as any;
  switch (o.kind) {
    case 'Namespace': return { create: () => a.core.createNamespace({ body }), read: () => a.core.readNamespace({ name }), replace: (b) => a.core.replaceNamespace({ name, body: b as any }), remove: () => a.core.deleteNamespace({ name }) };
    case 'ServiceAccount': return { create: () => a.core.createNamespacedServiceAccount({ namespace, body }), read: () => a.core.readNamespacedServiceAccount({ name, namespace }), replace: (b) => a.core.replaceNamespacedServiceAccount({ name, namespace, body: b as any }), remove: () => a.core.deleteNamespacedServiceAccount({ name, namespace }) };
    case 'ConfigMap': return { create: () => a.core.createNamespacedConfigMap({ namespace, body }), read: () => a.core.readNamespacedConfigMap({ name, namespace }), replace: (b) => a.core.replaceNamespacedConfigMap({ name, namespace, body: b as any }), remove: () => a.core.deleteNamespacedConfigMap({ name, namespace }) };
    case 'ClusterRole': return { create: () => a.rbac.createClusterRole({ body }), read: () => a.rbac.readClusterRole({ name }), replace: (b) => a.rbac.replaceClusterRole({ name, body: b as any }), remove: () => a.rbac.deleteClusterRole({ name }) };
    case 'ClusterRoleBinding': return { create: () => a.rbac.createClusterRoleBinding({ body }), read: () => a.rbac.readClusterRoleBinding({ name }), replace: (b) => a.rbac.replaceClusterRoleBinding({ name, body: b as any }), remove: () => a.rbac.deleteClusterRoleBinding({ name }) };
    case 'Role': return { create: () => a.rbac.createNamespacedRole({ namespace, body }), read: () => a.rbac.readNamespacedRole({ name, namespace }), replace: (b) => a.rbac.replaceNamespacedRole({ name, namespace, body: b as any }), remove: () => a.rbac.deleteNamespacedRole({ name, namespace }) };
    case 'RoleBinding': return { create: () => a.rbac.createNamespacedRoleBinding({ namespace, body }), read: () => a.rbac.readNamespacedRoleBinding({ name, namespace }), replace: (b) => a.rbac.replaceNamespacedRoleBinding({ name, namespace, body: b as any }), remove: () => a.rbac.deleteNamespacedRoleBinding({ name, namespace }) };
    case 'DaemonSet': return { create: () => a.apps.createNamespacedDaemonSet({ namespace, body }), read: () => a.apps.readNamespacedDaemonSet({ name, namespace }), replace: (b) => a.apps.replaceNamespacedDaemonSet({ name, namespace, body: b as any }), remove: () => a.apps.deleteNamespacedDaemonSet({ name, namespace }) };
    default: throw new KubeError(`cannot deploy an object of kind ${o.kind}`);
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function label(o: KubeObject): string {
  return `${o.kind.toLowerCase()} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** Create every object; one that exists already is replaced with ours (its resourceVersion kept). */
export async function applyObjects(kc: KubeConfig, objs: KubeObject[], report: (line: string) => void): Promise<void> {
  const a = apis(kc);
  for (const o of objs) {
    const ops = opsOf(a, o);
    try {
      await ops.create();
      report(`created ${label(o)}`);
    } catch (e) {
      if (!isConflict(e)) throw new KubeError(kubeErrorLine(e, `creating ${label(o)}`, a.server));
      try {
        const cur = await ops.read();
        await ops.replace({ ...o, metadata: { ...o.metadata, resourceVersion: cur.metadata?.resourceVersion } });
        report(`updated ${label(o)}`);
      } catch (e2) {
        throw new KubeError(kubeErrorLine(e2, `updating ${label(o)}`, a.server));
      }
    }
  }
}

/** Delete the objects in reverse order; ones that are gone already are fine. Returns what was deleted. */
export async function deleteObjects(kc: KubeConfig, objs: KubeObject[], report: (line: string) => void): Promise<number> {
  const a = apis(kc);
  let n = 0;
  for (const o of [...objs].reverse()) {
    try {
      await opsOf(a, o).remove();
      report(`deleted ${label(o)}`);
      n++;
    } catch (e) {
      if (!isNotFound(e)) throw new KubeError(kubeErrorLine(e, `deleting ${label(o)}`, a.server));
    }
  }
  return n;
}

function podReady(p: V1Pod): boolean {
  if (p.status?.phase !== 'Running') return false;
  const ready = (p.status.conditions ?? []).find((c) => c.type === 'Ready');
  // The kubelet writes the Ready condition; without one, the containers' own readiness is what there is.
  return ready ? ready.status === 'True' : (p.status.containerStatuses ?? []).length > 0 && (p.status.containerStatuses ?? []).every((c) => c.ready);
}

/** Why a pod is not ready, from its container statuses (ImagePullBackOff, CrashLoopBackOff, ...). */
function podWhy(p: V1Pod): string {
  for (const cs of p.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting;
    if (w?.reason) return `${w.reason}${w.message ? `: ${w.message.split('\n')[0]}` : ''}`;
    const t = cs.state?.terminated;
    if (t?.reason) return `${t.reason}${t.message ? `: ${t.message.split('\n')[0]}` : ''}`;
  }
  return p.status?.phase ?? 'Pending';
}

export interface ReadyState { desired: number; ready: number; notReady: string[] }

async function readyState(a: Apis, namespace: string): Promise<ReadyState & { done: boolean }> {
  const ds: V1DaemonSet = await a.apps.readNamespacedDaemonSet({ name: GADGET_NAME, namespace });
  const st = ds.status;
  const pods = (await a.core.listNamespacedPod({ namespace, labelSelector: GADGET_LABEL_SELECTOR })).items;
  const desired = st?.desiredNumberScheduled ?? 0;
  const readyPods = pods.filter(podReady);
  const notReady = pods.filter((p) => !podReady(p)).map((p) => `${p.metadata?.name ?? '?'} on ${p.spec?.nodeName ?? '(unscheduled)'} (${podWhy(p)})`);
  const observed = (st?.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 0);
  const done = observed && desired > 0 && (st?.numberReady ?? 0) >= desired && (st?.updatedNumberScheduled ?? desired) >= desired && readyPods.length >= desired;
  return { desired, ready: Math.min(readyPods.length, st?.numberReady ?? readyPods.length), notReady, done };
}

/** Poll until the DaemonSet's pods are ready on every node it targets, or fail after `timeoutMs` saying which are not. */
export async function waitReady(kc: KubeConfig, namespace: string, timeoutMs: number, progress?: (s: ReadyState) => void): Promise<ReadyState> {
  const a = apis(kc);
  const deadline = Date.now() + timeoutMs;
  let last: ReadyState = { desired: 0, ready: 0, notReady: [] };
  for (;;) {
    try {
      const s = await readyState(a, namespace);
      last = s;
      progress?.(s);
      if (s.done) return s;
    } catch (e) {
      throw new KubeError(kubeErrorLine(e, `reading daemonset ${namespace}/${GADGET_NAME}`, a.server));
    }
    if (Date.now() >= deadline) {
      const secs = Math.round(timeoutMs / 1000);
      const which = last.notReady.length ? `; not ready: ${last.notReady.slice(0, 5).join(', ')}${last.notReady.length > 5 ? `, and ${last.notReady.length - 5} more` : ''}` : last.desired === 0 ? '; the DaemonSet schedules no pod (no node matches?)' : '';
      throw new KubeError(`timed out after ${secs}s waiting for the gadget pods: ${last.ready} of ${last.desired} ready${which} (see kubectl -n ${namespace} describe pods -l ${GADGET_LABEL_SELECTOR}; --timeout to wait longer)`);
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(50, deadline - Date.now()))));
  }
}

/** After undeploy: wait for the namespace to be gone (its pods terminate first). */
export async function waitNamespaceGone(kc: KubeConfig, namespace: string, timeoutMs: number): Promise<void> {
  const a = apis(kc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await a.core.readNamespace({ name: namespace });
    } catch (e) {
      if (isNotFound(e)) return;
      throw new KubeError(kubeErrorLine(e, `reading namespace ${namespace}`, a.server));
    }
    if (Date.now() >= deadline) throw new KubeError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for namespace ${namespace} to be deleted (its pods may still be terminating)`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
