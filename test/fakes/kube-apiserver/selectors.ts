// FAKE Kubernetes API server: label and field selectors with the API server's syntax and error messages
// (equality `a=b,a==b,a!=b`, set-based `a in (x,y)`, `a notin (x)`, `a`, `!a` for labels; equality only for
// fields, which must be among the resource's supported field labels).

export type Matcher = (obj: KubeObject) => boolean;

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeMeta;
  [k: string]: unknown;
}

export interface KubeMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [k: string]: unknown;
}

export interface OwnerReference { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }

/** A selector the server cannot parse: answered with 400 BadRequest and this message. */
export class SelectorError extends Error {}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Split on commas that are not inside parentheses (set-based values). */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

function checkKey(key: string, whole: string): void {
  if (!LABEL_KEY.test(key)) throw new SelectorError(`unable to parse requirement: invalid label key "${key}" in selector "${whole}"`);
}
function checkValue(v: string, whole: string): void {
  if (!LABEL_VALUE.test(v)) throw new SelectorError(`unable to parse requirement: invalid label value "${v}" in selector "${whole}"`);
}

/** Parse a label selector into a matcher on metadata.labels; throws SelectorError with the server's wording. */
export function parseLabelSelector(sel: string): Matcher {
  const tests: ((l: Record<string, string>) => boolean)[] = [];
  for (const term of splitTerms(sel)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      checkKey(key, sel);
      const values = list.split(',').map((v) => v.trim());
      values.forEach((v) => checkValue(v, sel));
      const set = new Set(values);
      tests.push(op === 'in' ? (l) => key in l && set.has(l[key]!) : (l) => !(key in l) || !set.has(l[key]!));
    } else if ((m = term.match(/^([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)$/))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      checkKey(key, sel);
      checkValue(value, sel);
      tests.push(op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value);
    } else if ((m = term.match(/^!\s*([^=!\s()]+)$/))) {
      const key = m[1]!;
      checkKey(key, sel);
      tests.push((l) => !(key in l));
    } else if (/^[^=!\s()]+$/.test(term)) {
      checkKey(term, sel);
      tests.push((l) => term in l);
    } else {
      throw new SelectorError(`unable to parse requirement: found '${term}', expected: '=', '!=', '==', 'in', notin' in selector "${sel}"`);
    }
  }
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return tests.every((t) => t(labels));
  };
}

/** The value of a dotted field path (`spec.nodeName`) as the API server compares it (a string). */
export function fieldValue(obj: KubeObject, path: string): string {
  let v: unknown = obj;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return '';
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return '';
  return String(v);
}

/** Parse a field selector; `supported` lists the resource's field labels (others: the server's error). */
export function parseFieldSelector(sel: string, supported: readonly string[]): Matcher {
  const tests: Matcher[] = [];
  for (const term of splitTerms(sel)) {
    const m = term.match(/^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new SelectorError(`invalid selector: '${sel}'; can't understand '${term}'`);
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (!supported.includes(key)) throw new SelectorError(`field label not supported: ${key}`);
    tests.push(op === '!=' ? (o) => fieldValue(o, key) !== value : (o) => fieldValue(o, key) === value);
  }
  return (obj) => tests.every((t) => t(obj));
}
