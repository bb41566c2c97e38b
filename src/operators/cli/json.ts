// JSON encoding straight from field accessors: one specialised encoder per data source, built once as a list
// of constant text pieces and value writers, so a record costs a few string concatenations.
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { Kind, baseKind, isArrayKind, isIntegerKind, u64Decimal } from '../../datasource/index.js';

type Writer = (b: Batch, i: number) => string;

// Characters JSON must escape; most strings (names, paths) have none, and then quoting is all there is to do.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029]/;

export function jsonString(v: string): string {
  return v === '' ? '""' : NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}

export function valueWriter(f: Field): Writer {
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
  // Static u64 members (timestamps, ids): exact decimal straight from the bytes, no BigInt.
  if (kind === Kind.Uint64 && f.readsStorage && f.storage.type === 'static' && !f.storage.bitSize) {
    const offs = f.storage.offs;
    return (b, i) => u64Decimal(b.buf, b.offs[i]! + offs);
  }
  switch (kind) {
    case Kind.String: case Kind.CString:
      return (b, i) => { const v = get(b, i); return v === undefined || v === null ? '""' : jsonString(typeof v === 'string' ? v : String(v)); };
    case Kind.Bool: return (b, i) => (get(b, i) ? 'true' : 'false');
    case Kind.Bytes: return (b, i) => { const v = get(b, i); return Buffer.isBuffer(v) ? `"${v.toString('hex')}"` : v === undefined ? '""' : JSON.stringify(String(v)); };
    case Kind.Float32: case Kind.Float64:
      return (b, i) => { const v = Number(get(b, i) ?? 0); return Number.isFinite(v) ? String(v) : '0'; };
    default:
      return (b, i) => { const v = get(b, i); return v === undefined || v === null ? '0' : String(v); };
  }
}

export interface Node { name: string; field?: Field; children: Node[] }

/** The field annotation that keeps a field (and everything under it) out of JSON, as upstream's json formatter. */
export const JSON_SKIP = 'json.skip';

/**
 * True when JSON output leaves `f` out: it or one of its parents is annotated `json.skip: "true"` (exactly that
 * text, as upstream compares it; gadget.yaml's YAML boolean `true` reads as it). Skipped fields stay readable by
 * everything else (filters, sort, columns, operators, the native plan's joined strings).
 */
export function jsonSkipped(f: Field): boolean {
  for (let x: Field | undefined = f; x; x = x.parent) if (x.annotation(JSON_SKIP) === 'true') return true;
  return false;
}

/**
 * Every referenced value field (hidden ones too) in output order, the same as columns: enrichment first (negative
 * orders), converted fields beside their raw ones.
 */
export function referencedFields(ds: DataSource): Field[] {
  return ds.fields.filter((f) => !f.unreferenced).sort((a, b) => a.order - b.order || a.index - b.index);
}

/** Fields JSON shows: every referenced value field (hidden ones too) except json.skip ones. */
export function jsonFields(ds: DataSource): Field[] {
  return referencedFields(ds).filter((f) => !jsonSkipped(f));
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
  sortByName(root);
  return root;
}

/**
 * Keys in upstream's json formatter order: each level sorted by name, byte-wise (Go's strings.Compare), whatever
 * the field order (`-F` included), so ig's JSON lines equal upstream's byte for byte and diff cleanly against them.
 */
function sortByName(n: Node): void {
  if (n.children.length > 1) n.children.sort((a, b) => compareBytes(a.name, b.name));
  for (const c of n.children) sortByName(c);
}

function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function makeJsonEncoder(fields: Field[], indent = 0): Writer {
  return encodeNode(buildTree(fields), 0, indent);
}

/**
 * A subtree whose values all follow from one key (enrichment: the container of the record) is encoded once
 * per key change instead of once per record: events come in bursts from the same container, or from none.
 */
function memoWriter(n: Node, depth: number, indent: number, key: (b: Batch, i: number) => unknown): Writer {
  const sub = encodeNode(n, depth, indent);
  let lastKey: unknown = {};
  let last = '';
  return (b, i) => {
    const k = key(b, i);
    if (k !== lastKey) { lastKey = k; last = sub(b, i); }
    return last;
  };
}

export function encodeNode(root: Node, rootDepth: number, indent: number): Writer {
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
      const memo = c.field?.subtreeKey;
      if (hasChildren && memo) parts.push(memoWriter(c, depth + 1, indent, memo));
      else if (hasChildren) emit(c, depth + 1);
      else parts.push(valueWriter(c.field!));
    }
    parts.push(first ? '}' : `${nl(depth)}}`);
  };
  emit(root, rootDepth);
  // Merge neighbouring constant pieces.
  const merged: (string | Writer)[] = [];
  for (const p of parts) {
    const last = merged[merged.length - 1];
    if (typeof p === 'string' && typeof last === 'string') merged[merged.length - 1] = last + p;
    else merged.push(p);
  }
  return compileConcat(merged);
}

/**
 * One straight-line function per encoder: `"{\"pid\":" + w0(b,i) + ",\"comm\":" + w1(b,i) + ...`. Built once
 * per data source; V8 optimises a fixed concatenation far better than a loop over mixed pieces.
 */
function compileConcat(pieces: (string | Writer)[]): Writer {
  const writers: Writer[] = [];
  const expr = pieces.map((p) => {
    if (typeof p === 'string') return JSON.stringify(p);
    writers.push(p);
    return `w[${writers.length - 1}](b, i)`;
  });
  if (expr.length === 0) return () => '';
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from our own field list, no input text
  return new Function('w', `return function encode(b, i) { return ${expr.join(' + ')}; };`)(writers) as Writer;
}
