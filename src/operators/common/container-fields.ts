// Container fields (upstream's names and orders) added to every data source with a mount-namespace id,
// or failing that a network-namespace id. Values are derived from the container collection on demand.
import { Kind, type Batch, type DataSource, type Field, FieldFlag } from '../../datasource/index.js';
import type { Container } from '../../containers/index.js';

export interface ContainerLookup {
  byMntns(mntns: number | bigint): Container | undefined;
  byNetns(netns: number): Container | undefined;
  /** Call `cb` whenever a container comes or goes; returns the unsubscribe function. */
  onChange?(cb: () => void): () => void;
}

type Pick = (c: Container) => string | number | boolean;

const RUNTIME_FIELDS: [string, number, number, Record<string, string>, Pick][] = [
  ['containerName', Kind.String, -27, { template: 'container', description: 'Name of the container' }, (c) => c.name],
  ['runtimeName', Kind.String, -26, { 'columns.hidden': 'true', 'columns.width': '19', 'columns.fixed': 'true', description: 'Container runtime' }, (c) => c.runtime],
  ['containerId', Kind.String, -25, { 'columns.hidden': 'true', 'columns.width': '13', 'columns.maxwidth': '64', description: 'Container id' }, (c) => c.id],
  ['containerPid', Kind.Uint32, -24, { template: 'containerPid', description: 'PID of the container process' }, (c) => c.pid],
  ['containerImageName', Kind.String, -23, { template: 'containerImageName', 'columns.hidden': 'true', description: 'Image name' }, (c) => c.imageName],
  ['containerImageDigest', Kind.String, -22, { template: 'containerImageDigest', 'columns.hidden': 'true', description: 'Image digest' }, (c) => c.imageDigest],
  ['containerStartedAt', Kind.Int64, -21, { template: 'containerStartedAt', description: 'Start time of the container (unix ns)' }, (c) => c.startedAt],
];

const K8S_FIELDS: [string, number, number, Record<string, string>, Pick][] = [
  ['node', Kind.String, -31, { template: 'node', description: 'Kubernetes node' }, (c) => c.k8s.node ?? process.env['NODE_NAME'] ?? ''],
  ['namespace', Kind.String, -30, { template: 'namespace', description: 'Kubernetes namespace' }, (c) => c.k8s.namespace],
  ['podName', Kind.String, -29, { template: 'pod', description: 'Kubernetes pod' }, (c) => c.k8s.podName],
  ['containerName', Kind.String, -28, { template: 'container', description: 'Kubernetes container' }, (c) => c.k8s.containerName],
  ['hostnetwork', Kind.Bool, -28, { 'columns.hidden': 'true' }, (c) => c.k8s.hostNetwork ?? false],
  ['podLabels', Kind.String, -28, { 'columns.hidden': 'true' }, (c) => Object.entries(c.k8s.podLabels).map(([k, v]) => `${k}=${v}`).join(',')],
];

/** The first mntns field (preferred) or netns field, by BTF type name. */
export function enrichmentKey(ds: DataSource): { field: Field; kind: 'mntns' | 'netns' } | undefined {
  const m = ds.fields.find((f) => f.typeNames().includes('gadget_mntns_id'));
  if (m) return { field: m, kind: 'mntns' };
  const n = ds.fields.find((f) => f.typeNames().includes('gadget_netns_id'));
  return n ? { field: n, kind: 'netns' } : undefined;
}

export function addContainerFields(ds: DataSource, lookup: ContainerLookup, inKubernetes = false): boolean {
  const key = enrichmentKey(ds);
  if (!key || ds.getField('runtime')) return false;
  const get = key.field.get;
  // Network gadgets carry both ids; the mntns one comes from the socket's owner and is 0 when the owner is
  // unknown (short-lived clients), so fall back to the packet's network namespace then.
  const netnsField = key.kind === 'mntns' ? ds.fields.find((f) => f.typeNames().includes('gadget_netns_id')) : undefined;
  const getNetns = netnsField?.get;
  // Resolve once per record even when several fields are shown: remember the last (batch, index).
  let lastB: Batch | undefined; let lastI = -1; let lastC: Container | undefined;
  const container = (b: Batch, i: number): Container | undefined => {
    if (b === lastB && i === lastI) return lastC;
    lastB = b; lastI = i;
    const v = get(b, i) as number | bigint;
    lastC = key.kind === 'mntns' ? lookup.byMntns(v) : lookup.byNetns(Number(v));
    if (!lastC && getNetns) lastC = lookup.byNetns(Number(getNetns(b, i)));
    return lastC;
  };
  const add = (parent: Field, defs: typeof RUNTIME_FIELDS) => {
    for (const [name, kind, order, ann, pick] of defs) {
      const empty = kind === Kind.String ? '' : kind === Kind.Bool ? false : 0;
      ds.addField({ name, parent, kind, order, annotations: ann, tags: ['src:localmanager'],
        storage: { type: 'derived', compute: (b, i) => { const c = container(b, i); return c ? pick(c) : empty; } } });
    }
  };
  const memoKey = (b: Batch, i: number) => container(b, i) ?? null;
  // Natively: the same fields follow from the namespace ids; answers are dropped when containers change, and
  // after a second (a removed container is still answered for a while from the collection's removed cache).
  const derivation = { kind: 'computed' as const, inputs: netnsField ? [key.field, netnsField] : [key.field], ttlMs: 1000, invalidation: lookup.onChange?.bind(lookup) };
  const k8s = ds.addField({ name: 'k8s', kind: Kind.Invalid, flags: FieldFlag.Empty, order: -32, annotations: inKubernetes ? {} : { 'columns.hidden': 'true' } });
  k8s.subtreeKey = memoKey;
  k8s.derivation = derivation;
  add(k8s, K8S_FIELDS);
  ds.addField({ name: 'owner', parent: k8s, kind: Kind.Invalid, flags: FieldFlag.Empty, order: -28 });
  const owner = ds.getField('k8s.owner')!;
  const ownerPick: Record<string, Pick> = { kind: (c) => c.k8s.ownerKind ?? '', name: (c) => c.k8s.ownerName ?? '' };
  for (const n of ['kind', 'name']) {
    const pick = ownerPick[n]!;
    ds.addField({ name: n, parent: owner, kind: Kind.String, order: -28, annotations: { 'columns.hidden': 'true' }, tags: ['src:localmanager'],
      storage: { type: 'derived', compute: (b, i) => { const c = container(b, i); return c ? pick(c) : ''; } } });
  }
  const runtime = ds.addField({ name: 'runtime', kind: Kind.Invalid, flags: FieldFlag.Empty, order: -27, annotations: inKubernetes ? { 'columns.hidden': 'true' } : {} });
  runtime.subtreeKey = memoKey;
  runtime.derivation = derivation;
  add(runtime, RUNTIME_FIELDS);
  return true;
}
