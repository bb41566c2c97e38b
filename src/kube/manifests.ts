// The objects `kubectl gadget deploy` creates, as upstream's deploy.yaml lays them out: namespace gadget, a
// ServiceAccount, cluster-wide read RBAC for the Kube Manager (pods, nodes, owners, services), a namespaced Role for
// its ConfigMap, the ConfigMap holding the daemon's config file, and the DaemonSet running `ig daemon` on every node.
// Plain JSON objects in the API's shape: the deploy command sends them, --print-only prints them as YAML.
import { stringify } from 'yaml';

export const GADGET_NAMESPACE = 'gadget';
export const GADGET_NAME = 'gadget';
/** Label every object carries and the gadget pods are found by (upstream's). */
export const GADGET_LABEL = { 'k8s-app': 'gadget' } as const;
export const GADGET_LABEL_SELECTOR = 'k8s-app=gadget';
/** Port of the gadget service inside each gadget pod (upstream's api.GadgetServicePort), reached by port-forward. */
export const GADGET_SERVICE_PORT = 8080;
/** Where the ConfigMap's config.yaml appears in the pod. */
export const CONFIG_MOUNT = '/etc/ig';
/** The ig CLI inside the image (scripts/build-image.sh puts it there). */
export const IMAGE_IG = ['/usr/bin/node', '/usr/lib/ig/dist/src/cli/main.js'];

export interface DeployOptions {
  image: string;
  namespace?: string;
  /** imagePullPolicy: Always for a moving tag, IfNotPresent otherwise (Kubernetes' own default rule). */
  pullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** The daemon's config file (ig's keys: operator.<op>.<key>), stored in the ConfigMap. */
  configYaml?: string;
  /** Messages (event batches) buffered per client of the daemon (`--events-buffer-length`). */
  eventsBufferLength?: number;
  daemonLogLevel?: 'info' | 'debug';
}

export type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

export const DEFAULT_CONFIG_YAML = `# ig daemon configuration: fully qualified param names (see docs/kubernetes.md)
operator:
  oci:
    verify-image: false
    disallow-pulling: false
`;

/** A probe that succeeds once the gadget service accepts connections on the pod's loopback. */
function serviceProbe(): Record<string, unknown> {
  const js = `require('net').connect(${GADGET_SERVICE_PORT},'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`;
  return { exec: { command: ['/usr/bin/node', '-e', js] } };
}

function hostVolume(name: string, path: string, type?: string): Record<string, unknown> {
  return { name, hostPath: type ? { path, type } : { path } };
}

export function deployManifests(o: DeployOptions): KubeObject[] {
  const ns = o.namespace ?? GADGET_NAMESPACE;
  const labels = { ...GADGET_LABEL };
  const meta = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: ns } : {}), labels: { ...labels } });
  const moving = /:latest$/.test(o.image) || !/[:@][^/]+$/.test(o.image);
  const pullPolicy = o.pullPolicy ?? (moving ? 'Always' : 'IfNotPresent');
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ...labels } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(GADGET_NAME) },
    {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(GADGET_NAME),
      data: { 'config.yaml': o.configYaml ?? DEFAULT_CONFIG_YAML },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta('gadget-cluster-role', false),
      rules: [
        // The Kube Manager: pods of its node, nodes, namespaces; owners for k8s.owner.*; services for the resolvers.
        { apiGroups: [''], resources: ['namespaces', 'nodes', 'pods'], verbs: ['get', 'watch', 'list'] },
        { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
        { apiGroups: ['apps', 'batch'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta('gadget-cluster-role-binding', false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gadget-cluster-role' },
      subjects: [{ kind: 'ServiceAccount', name: GADGET_NAME, namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta('gadget-role'),
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta('gadget-role-binding'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'gadget-role' },
      subjects: [{ kind: 'ServiceAccount', name: GADGET_NAME, namespace: ns }],
    },
    {
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta(GADGET_NAME),
      spec: {
        selector: { matchLabels: { ...labels } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: { ...labels } },
          spec: {
            serviceAccountName: GADGET_NAME,
            // Host PID: the daemon reads /proc/<pid> of every container's process (mount namespaces, exe, cgroup).
            hostPID: true,
            hostNetwork: false,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            tolerations: [{ effect: 'NoSchedule', operator: 'Exists' }, { effect: 'NoExecute', operator: 'Exists' }],
            terminationGracePeriodSeconds: 30,
            containers: [{
              name: 'gadget',
              image: o.image,
              imagePullPolicy: pullPolicy,
              // Plain TCP on the pod's loopback only: clients arrive through the API server's port-forward.
              command: [...IMAGE_IG, 'daemon', '--host', `tcp://127.0.0.1:${GADGET_SERVICE_PORT}`, '--tls-insecure',
                '--events-buffer-length', String(o.eventsBufferLength ?? 16384), '--config', `${CONFIG_MOUNT}/config.yaml`,
                ...(o.daemonLogLevel === 'debug' ? ['--verbose'] : [])],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'GADGET_POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
                { name: 'GADGET_IMAGE', value: o.image },
              ],
              // eBPF programs, perf events, fanotify, mount and setns need the whole set; upstream lists them one by one.
              securityContext: { privileged: true },
              readinessProbe: { ...serviceProbe(), periodSeconds: 5, timeoutSeconds: 2 },
              livenessProbe: { ...serviceProbe(), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              startupProbe: { ...serviceProbe(), periodSeconds: 2, failureThreshold: 30 },
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [
                { name: 'run', mountPath: '/run' },
                { name: 'debugfs', mountPath: '/sys/kernel/debug' },
                { name: 'bpffs', mountPath: '/sys/fs/bpf' },
                { name: 'cgroup', mountPath: '/sys/fs/cgroup', readOnly: true },
                { name: 'config', mountPath: CONFIG_MOUNT, readOnly: true },
              ],
            }],
            volumes: [
              hostVolume('run', '/run'),
              hostVolume('debugfs', '/sys/kernel/debug'),
              hostVolume('bpffs', '/sys/fs/bpf'),
              hostVolume('cgroup', '/sys/fs/cgroup'),
              { name: 'config', configMap: { name: GADGET_NAME, defaultMode: 0o400 } },
            ],
          },
        },
      },
    },
  ];
}

/** The objects as one multi-document YAML stream, as `kubectl apply -f` reads it. */
export function manifestsYaml(objs: KubeObject[]): string {
  return objs.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
