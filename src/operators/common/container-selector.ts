// Container selectors: comma lists with "!" negation, as upstream's --containername / --k8s-* flags, and the
// pod label selector of -l/--k8s-selector (`key=value,...`; `key=!value` excludes a value, `!key=value` excludes
// pods whose label has that value).
import type { Container } from '../../containers/index.js';

export interface LabelRequirement { key: string; value: string; exclude: boolean }

export interface ContainerSelector {
  names: string[];
  k8sNamespaces: string[];
  k8sPods: string[];
  k8sContainers: string[];
  imageDigests: string[];
  imageNames: string[];
  /** Pod labels (empty: any). */
  podLabels?: LabelRequirement[];
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

const LABEL_SYNTAX = 'should be a comma-separated list of key-value pairs (key=value[,key=value,...])';

/** The error for a label selector that is not `key=value[,key=value...]`, or undefined when it is fine. */
export function labelSelectorError(v: string): string | undefined {
  if (v.trim() === '') return undefined;
  for (const pair of v.split(',')) {
    const kv = pair.split('=');
    if (kv.length !== 2 || kv[0]!.trim() === '' || kv[0]!.trim() === '!') return `"${pair}" ${LABEL_SYNTAX}`;
  }
  return undefined;
}

export function parseLabelSelector(v: string | undefined): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  for (const pair of parseList(v)) {
    const [k, val] = pair.split('=') as [string, string];
    const key = k.trim();
    out.push({ key: key.startsWith('!') ? key.slice(1) : key, value: (val ?? '').trim(), exclude: key.startsWith('!') });
  }
  return out;
}

function matchLabels(reqs: LabelRequirement[] | undefined, labels: Record<string, string>): boolean {
  for (const r of reqs ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const valueOk = has && matchList(parseList(r.value), labels[r.key]!);
    if (r.exclude ? valueOk : !valueOk) return false;
  }
  return true;
}

export function matches(sel: ContainerSelector, c: Container): boolean {
  return matchList(sel.names, c.name)
    && matchList(sel.k8sNamespaces, c.k8s.namespace)
    && matchList(sel.k8sPods, c.k8s.podName)
    && matchList(sel.k8sContainers, c.k8s.containerName)
    && matchList(sel.imageDigests, c.imageDigest)
    && matchList(sel.imageNames, c.imageName)
    && matchLabels(sel.podLabels, c.k8s.podLabels);
}

export function hasSelector(sel: ContainerSelector): boolean {
  return Object.values(sel).some((l) => ((l ?? []) as unknown[]).length > 0);
}

export function selectorText(sel: ContainerSelector, flags: Partial<Record<'names' | 'k8sNamespaces' | 'k8sPods' | 'k8sContainers' | 'podLabels', string>> = {}): string {
  const parts: string[] = [];
  const add = (flag: string, l: string[]) => { if (l.length) parts.push(`${flag} ${l.join(',')}`); };
  add(flags.names ?? '-c', sel.names); add(flags.k8sNamespaces ?? '--k8s-namespace', sel.k8sNamespaces); add(flags.k8sPods ?? '--k8s-podname', sel.k8sPods);
  add(flags.k8sContainers ?? '--k8s-containername', sel.k8sContainers); add('--runtime-containerimage-digest', sel.imageDigests);
  add('--runtime-containerimage-name', sel.imageNames);
  add(flags.podLabels ?? '--k8s-selector', (sel.podLabels ?? []).map((r) => `${r.exclude ? '!' : ''}${r.key}=${r.value}`));
  return parts.join(' ');
}
