// Container selectors: comma lists with "!" negation, as upstream's --containername / --k8s-* flags.
import type { Container } from '../../containers/index.js';

export interface ContainerSelector {
  names: string[];
  k8sNamespaces: string[];
  k8sPods: string[];
  k8sContainers: string[];
  imageDigests: string[];
  imageNames: string[];
}

function matchList(list: string[], value: string): boolean {
  if (list.length === 0) return true;
  const pos = list.filter((x) => !x.startsWith('!'));
  const neg = list.filter((x) => x.startsWith('!')).map((x) => x.slice(1));
  if (neg.includes(value)) return false;
  return pos.length === 0 || pos.includes(value);
}

export function parseList(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export function matches(sel: ContainerSelector, c: Container): boolean {
  return matchList(sel.names, c.name)
    && matchList(sel.k8sNamespaces, c.k8s.namespace)
    && matchList(sel.k8sPods, c.k8s.podName)
    && matchList(sel.k8sContainers, c.k8s.containerName)
    && matchList(sel.imageDigests, c.imageDigest)
    && matchList(sel.imageNames, c.imageName);
}
