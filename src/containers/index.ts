/**
 * Container discovery and tracking for ig (see docs/containers.md).
 *
 *   const col = await ContainerCollection.start({ runtimes: ['containerd', 'podman'], warn: console.error });
 *   col.on('add', (c) => …); col.on('remove', (c) => …);
 *   col.byMntns(mntnsFromAnEvent);   // live, then removed < 2 s ago
 *   await col.stop();
 */
export {
  ContainerCollection, DEFAULT_CONTAINERD_NAMESPACE, DEFAULT_SOCKETS, parseRuntimes, type CollectionOptions,
} from './collection.js';
export { hostMntns, procInfo, type ProcInfo } from './proc.js';
export {
  RUNTIME_NAMES, type Container, type K8sMetadata, type RuntimeName, type RuntimeClient, type RuntimeContainer,
} from './types.js';
export { containerToJSON, type ContainerJSON } from './json.js';
