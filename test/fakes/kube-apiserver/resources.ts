// FAKE Kubernetes API server: the resources it serves, as the real server's discovery documents name them.

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural, lower case: the path segment. */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  /** Field labels accepted by fieldSelector (beyond metadata.name / metadata.namespace). */
  fields: readonly string[];
  shortNames?: string[];
}

const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function r(group: string, version: string, name: string, kind: string, namespaced: boolean, fields: string[] = [], shortNames?: string[]): ResourceType {
  return { group, version, name, singularName: kind.toLowerCase(), kind, namespaced, fields, ...(shortNames ? { shortNames } : {}) };
}

export const RESOURCES: readonly ResourceType[] = [
  r('', 'v1', 'pods', 'Pod', true, ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'], ['po']),
  r('', 'v1', 'nodes', 'Node', false, ['spec.unschedulable'], ['no']),
  r('', 'v1', 'services', 'Service', true, ['spec.clusterIP', 'spec.type'], ['svc']),
  r('', 'v1', 'endpoints', 'Endpoints', true, [], ['ep']),
  r('', 'v1', 'namespaces', 'Namespace', false, ['status.phase'], ['ns']),
  r('', 'v1', 'serviceaccounts', 'ServiceAccount', true, [], ['sa']),
  r('', 'v1', 'configmaps', 'ConfigMap', true, [], ['cm']),
  r('', 'v1', 'secrets', 'Secret', true, ['type']),
  r('apps', 'v1', 'deployments', 'Deployment', true, [], ['deploy']),
  r('apps', 'v1', 'replicasets', 'ReplicaSet', true, ['status.replicas'], ['rs']),
  r('apps', 'v1', 'daemonsets', 'DaemonSet', true, [], ['ds']),
  r('apps', 'v1', 'statefulsets', 'StatefulSet', true, ['status.successful'], ['sts']),
  r('batch', 'v1', 'jobs', 'Job', true, ['status.successful']),
  r('batch', 'v1', 'cronjobs', 'CronJob', true, [], ['cj']),
  r('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  r('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  r('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  r('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
];

export function groupVersion(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** `apps/replicasets`, `pods`: the key objects are stored under and forbid rules name. */
export function resourceKey(t: ResourceType): string {
  return t.group ? `${t.group}/${t.name}` : t.name;
}

export function findResource(group: string, version: string, name: string): ResourceType | undefined {
  return RESOURCES.find((t) => t.group === group && t.version === version && t.name === name);
}

export function resourceForKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCES.find((t) => groupVersion(t) === apiVersion && t.kind === kind);
}

/** Discovery: `GET /api/v1`, `GET /apis/apps/v1` (KubernetesObjectApi resolves kinds through it). */
export function apiResourceList(group: string, version: string): object | undefined {
  const list = RESOURCES.filter((t) => t.group === group && t.version === version);
  if (list.length === 0) return undefined;
  const resources: object[] = [];
  for (const t of list) {
    resources.push({ name: t.name, singularName: t.singularName, namespaced: t.namespaced, kind: t.kind, verbs, ...(t.shortNames ? { shortNames: t.shortNames } : {}) });
    resources.push({ name: `${t.name}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
    if (t.name === 'pods') resources.push({ name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

/** Discovery: `GET /apis`. */
export function apiGroupList(): object {
  const groups = [...new Set(RESOURCES.filter((t) => t.group).map((t) => `${t.group}/${t.version}`))];
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups.map((gv) => {
      const [name, version] = gv.split('/') as [string, string];
      const v = { groupVersion: gv, version };
      return { name, versions: [v], preferredVersion: v };
    }),
  };
}
