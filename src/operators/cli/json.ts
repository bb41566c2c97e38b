// JSON encoding straight from field accessors: one specialised encoder per data source, built once as a list
// of constant text pieces and value writers, so a record costs a few string concatenations.
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { Kind, baseKind, isArrayKind, isIntegerKind } from '../../datasource/index.js';

type Writer = (b: Batch, i: number) => string;

function valueWriter(f: Field): Writer {
  const get = f.get;
  const kind = baseKind(f.kind);
  if (isArrayKind(f.kind)) {
    if (isIntegerKind(kind) || kind === Kind.Float32 || kind === Kind.Float64) {
      return (b, i) => { const v = get(b, i); return Array.isArray(v) ? `[${v.join(',')}]` : '[]'; };
    }
    return (b, i) => { const v = get(b, i); return Buffer.isBuffer(v) ? `"${v.toString('hex')}"` : '""'; };
  }
  if ((kind === Kind.String || kind === Kind.CString) && f.annotation('content-type') === 'application/json') {
    // Already JSON (e.g. a rendered histogram): embedded as is.
    return (b, i) => { const v = get(b, i); return v === undefined || v === null || v === '' ? 'null' : String(v); };
  }
  switch (kind) {
    case Kind.String: case Kind.CString:
      return (b, i) => { const v = get(b, i); return v === undefined || v === null ? '""' : JSON.stringify(String(v)); };
    case Kind.Bool: return (b, i) => (get(b, i) ? 'true' : 'false');
    case Kind.Bytes: return (b, i) => { const v = get(b, i); return Buffer.isBuffer(v) ? `"${v.toString('hex')}"` : v === undefined ? '""' : JSON.stringify(String(v)); };
    case Kind.Float32: case Kind.Float64:
      return (b, i) => { const v = Number(get(b, i) ?? 0); return Number.isFinite(v) ? String(v) : '0'; };
    default:
      return (b, i) => { const v = get(b, i); return v === undefined || v === null ? '0' : String(v); };
  }
}

interface Node { name: string; field?: Field; children: Node[] }

/** Fields JSON shows: every referenced value field (hidden ones too) except json.skip. */
export function jsonFields(ds: DataSource): Field[] {
  // Same order as columns: enrichment first (negative orders), converted fields beside their raw ones.
  return ds.fields.filter((f) => !f.unreferenced && f.annotation('json.skip') !== 'true')
    .sort((a, b) => a.order - b.order || a.index - b.index);
}

export function buildTree(fields: Field[]): Node {
  const root: Node = { name: '', children: [] };
  const byName = new Map<string, Node>();
  const nodeFor = (f: Field): Node => {
    let n = byName.get(f.fullName);
    if (n) return n;
    const parent = f.parent ? nodeFor(f.parent) : root;
    n = { name: f.name, children: [] };
    byName.set(f.fullName, n);
    parent.children.push(n);
    return n;
  };
  for (const f of fields) nodeFor(f).field = f;
  return root;
}

export function makeJsonEncoder(fields: Field[], indent = 0): Writer {
  const root = buildTree(fields);
  const parts: (string | Writer)[] = [];
  const nl = (d: number) => (indent ? '\n' + ' '.repeat(indent * d) : '');
  const emit = (n: Node, depth: number) => {
    parts.push('{');
    let first = true;
    for (const c of n.children) {
      const hasChildren = c.children.length > 0;
      if (!hasChildren && (!c.field || c.field.isEmpty)) continue;
      parts.push(`${first ? '' : ','}${nl(depth + 1)}${JSON.stringify(c.name)}:${indent ? ' ' : ''}`);
      first = false;
      if (hasChildren) emit(c, depth + 1);
      else parts.push(valueWriter(c.field!));
    }
    parts.push(first ? '}' : `${nl(depth)}}`);
  };
  emit(root, 0);
  // Merge neighbouring constant pieces.
  const merged: (string | Writer)[] = [];
  for (const p of parts) {
    const last = merged[merged.length - 1];
    if (typeof p === 'string' && typeof last === 'string') merged[merged.length - 1] = last + p;
    else merged.push(p);
  }
  const n = merged.length;
  return (b, i) => {
    let s = '';
    for (let k = 0; k < n; k++) {
      const p = merged[k]!;
      s += typeof p === 'string' ? p : p(b, i);
    }
    return s;
  };
}
