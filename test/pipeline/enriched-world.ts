// What the native-plan tests share: a data source enriched like a real run (user/group names from files the test
// writes, container fields from a map the test fills) and the containers it puts there.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from '../../src/datasource/index.js';
import { installResolver, IdNames } from '../../src/operators/uidgidresolver/operator.js';
import { addContainerFields } from '../../src/operators/common/container-fields.js';
import type { Container } from '../../src/containers/index.js';

export interface Enrichment {
  containers: Map<bigint, Container>;
  /** tell the container fields the table changed (as the LocalManager does) */
  changed: () => void;
}

/** uid/gid names from `passwd` (a passwd file's text, written in `dir`) and container fields by mount namespace. */
export function enrich(ds: DataSource, dir: string, passwd: string): Enrichment {
  const passwdFile = join(dir, 'passwd');
  const groupFile = join(dir, 'group');
  writeFileSync(passwdFile, passwd);
  writeFileSync(groupFile, 'root:x:0:\n');
  installResolver(ds, { users: new IdNames(passwdFile), groups: new IdNames(groupFile) });
  const containers = new Map<bigint, Container>();
  const listeners = new Set<() => void>();
  addContainerFields(ds, {
    byMntns: (m) => containers.get(BigInt(m)),
    byNetns: () => undefined,
    onChange: (cb) => { listeners.add(cb); return () => listeners.delete(cb); },
  });
  return { containers, changed: () => { for (const l of listeners) l(); } };
}

/** A containerd container named `name` in mount namespace `mntns`, with a pod of the same name. */
export function fakeContainer(mntns: bigint, name: string): Container {
  return {
    runtime: 'containerd', id: `id-${name}`, name, imageName: `img/${name}:1`, imageDigest: 'sha256:00', pid: 4242, mntns,
    netns: 1, cgroupPath: '', cgroupId: 0n, startedAt: 1700000000000000000, labels: {}, pidStartTime: 1n,
    k8s: { namespace: 'ns', podName: `pod-${name}`, containerName: name, podLabels: { app: name } },
  } as unknown as Container;
}
