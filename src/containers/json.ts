/**
 * JSON shape of a container, with upstream's field names (pkg/container-collection Container: `runtime.*`,
 * `k8s.*`, `pid`, `mntns`, `netns`, `cgroupPath`, `cgroupID`). Like upstream's `omitempty`, empty strings,
 * zero numbers and empty maps are left out; the `runtime` and `k8s` objects are always present.
 */
import type { Container } from './types.js';

export interface ContainerJSON {
  runtime: {
    runtimeName?: string;
    containerId?: string;
    containerName?: string;
    containerPid?: number;
    containerImageName?: string;
    containerImageDigest?: string;
    containerStartedAt?: number;
  };
  k8s: {
    namespace?: string;
    podName?: string;
    containerName?: string;
    podUID?: string;
    podLabels?: Record<string, string>;
  };
  pid?: number;
  mntns?: number;
  netns?: number;
  cgroupPath?: string;
  cgroupID?: number;
}

function compact<T extends object>(o: T): T {
  for (const [k, v] of Object.entries(o)) {
    const empty = v === '' || v === 0 || v === undefined || v === null
      || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
    if (empty) delete (o as Record<string, unknown>)[k];
  }
  return o;
}

export function containerToJSON(c: Container): ContainerJSON {
  const rest = compact({
    pid: c.pid,
    mntns: Number(c.mntns),
    netns: c.netns,
    cgroupPath: c.cgroupPath,
    cgroupID: Number(c.cgroupId),
  });
  return {
    runtime: compact({
      runtimeName: c.runtime,
      containerId: c.id,
      containerName: c.name,
      containerPid: c.pid,
      containerImageName: c.imageName,
      containerImageDigest: c.imageDigest,
      containerStartedAt: c.startedAt,
    }),
    k8s: compact({
      namespace: c.k8s.namespace,
      podName: c.k8s.podName,
      containerName: c.k8s.containerName,
      podUID: c.k8s.podUid,
      podLabels: { ...c.k8s.podLabels },
    }),
    ...rest,
  };
}
