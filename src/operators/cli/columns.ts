// Column output: header once, then one aligned row per record; widths, alignment, ellipsis from annotations.
// Widths are terminal cells (wide CJK characters and emoji take two), control characters are shown escaped,
// and the last column is never cut unless it declares columns.maxwidth: it is where paths and arguments go.
import { createRequire } from 'node:module';
import type stringWidthFn from 'string-width';

// string-width (and its Intl.Segmenter, whose ICU data took ~2.6 MB of resident memory) is loaded on first use:
// a JSON run, or columns of ASCII text, never needs it.
let sw: typeof stringWidthFn | undefined;
function stringWidth(s: string): number {
  sw ??= (createRequire(import.meta.url)('string-width') as { default: typeof stringWidthFn }).default;
  return sw(s);
}
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { Kind, baseKind, isNumericKind } from '../../datasource/index.js';

export interface Column {
  field: Field;
  value: Field;           // the field whose value is printed (columns.replace)
  header: string;
  width: number;
  /** Cut values longer than this (cells); only the last column may have none (0): it takes what it needs. */
  maxCells: number;
  right: boolean;
  ellipsis: 'end' | 'start' | 'middle' | 'none';
  hex: boolean;
  precision?: number;
}

/**
 * On a terminal narrower than the table, narrow the text columns before the last one (widest first, never below
 * their header or columns.minwidth) so the last column (the path) starts on screen and is not wrapped away.
 * Numbers are never narrowed: a cut number is a wrong number.
 */
export function fitColumnsToWidth(cols: Column[], termWidth: number | undefined): void {
  if (!termWidth || cols.length < 2) return;
  const last = cols[cols.length - 1]!;
  let total = cols.reduce((n, c) => n + c.width, 0) + cols.length - 1;
  const floor = (c: Column) => Math.max(c.header.length, Number(c.field.annotation('columns.minwidth') ?? 0), 1);
  const shrinkable = cols.filter((c) => c !== last && !isNumericKind(baseKind(c.value.kind)) && c.width > floor(c));
  while (total > termWidth) {
    let widest: Column | undefined;
    for (const c of shrinkable) if (c.width > floor(c) && (!widest || c.width > widest.width)) widest = c;
    if (!widest) return;
    widest.width--;
    widest.maxCells = widest.width;
    total--;
  }
}

export function columnFor(ds: DataSource, f: Field, last = false): Column {
  const a = (k: string) => f.annotation(`columns.${k}`);
  const header = (a('alias') ?? f.fullName).toUpperCase();
  const replace = a('replace');
  // columns.replace names a sub-field (l4 endpoints: "endpoint") or any field by its full name.
  const value = (replace && (ds.getField(`${f.fullName}.${replace}`) ?? ds.getField(replace))) || f;
  const numeric = isNumericKind(baseKind(value.kind));
  let width = Number(a('width') ?? NaN);
  if (Number.isNaN(width)) width = numeric ? 7 : 16;
  const min = Number(a('minwidth') ?? 0);
  const max = Number(a('maxwidth') ?? 0);
  if (width < min) width = min;
  if (width < header.length) width = header.length;
  if (max > 0 && width > max) width = Math.max(max, Math.min(header.length, max));
  const ell = a('ellipsis');
  const precision = a('precision');
  return {
    field: f, value, header, width,
    maxCells: last ? max : width,
    right: a('alignment') === 'right',
    ellipsis: ell === 'start' || ell === 'middle' || ell === 'none' ? ell : 'end',
    hex: a('hex') === 'true',
    precision: precision !== undefined ? Number(precision) : undefined,
  };
}

const PLAIN = /^[\x20-\x7e]*$/;
// C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides that reorder what follows.
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e' };

/** Kernel strings may hold anything: escape what would move the cursor or change the terminal's state. */
export function escapeControls(s: string): string {
  if (PLAIN.test(s)) return s;
  return s.replace(UNSAFE, (c) => NAMED[c] ?? (c.charCodeAt(0) <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** Terminal cells a (control-free) string takes. */
export function cells(s: string): number {
  return PLAIN.test(s) ? s.length : stringWidth(s);
}

let segmenter: Intl.Segmenter | undefined;

/** The longest prefix (or suffix) of `s` that fits in `w` cells, never splitting a character. */
function takeCells(s: string, w: number, fromEnd: boolean): string {
  if (PLAIN.test(s)) return fromEnd ? s.slice(s.length - w) : s.slice(0, w);
  segmenter ??= new Intl.Segmenter();
  const parts = [...segmenter.segment(s)].map((g) => g.segment);
  if (fromEnd) parts.reverse();
  let used = 0;
  let n = 0;
  for (; n < parts.length; n++) {
    const cw = stringWidth(parts[n]!);
    if (used + cw > w) break;
    used += cw;
  }
  const kept = parts.slice(0, n);
  if (fromEnd) kept.reverse();
  return kept.join('');
}

export function fit(s: string, c: Column, last: boolean): string {
  const limit = c.maxCells || (last ? Infinity : c.width);
  let cw = cells(s);
  if (cw > limit) {
    const w = limit;
    if (c.ellipsis === 'none' || w < 2) s = takeCells(s, w, false);
    else if (c.ellipsis === 'start') s = '…' + takeCells(s, w - 1, true);
    else if (c.ellipsis === 'middle') { const h = Math.floor((w - 1) / 2); s = takeCells(s, h, false) + '…' + takeCells(s, w - 1 - h, true); }
    else s = takeCells(s, w - 1, false) + '…';
    cw = cells(s);
  }
  if (cw >= c.width) return s;
  const pad = ' '.repeat(c.width - cw);
  if (c.right) return pad + s;
  return last ? s : s + pad;
}

export function cellText(c: Column, b: Batch, i: number): string {
  const v = c.value.get(b, i);
  if (v === undefined || v === null) return '';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (c.hex && (typeof v === 'number' || typeof v === 'bigint')) return '0x' + v.toString(16);
  if (typeof v === 'number' && c.precision !== undefined && (baseKind(c.value.kind) === Kind.Float32 || baseKind(c.value.kind) === Kind.Float64)) return v.toFixed(c.precision);
  if (typeof v === 'string') return escapeControls(v);
  if (Array.isArray(v)) return escapeControls(v.join(','));
  return String(v);
}

export function headerLine(cols: Column[]): string {
  return cols.map((c, k) => fit(c.header, c, k === cols.length - 1)).join(' ').trimEnd();
}

export function rowLine(cols: Column[], b: Batch, i: number): string {
  let s = '';
  for (let k = 0; k < cols.length; k++) {
    if (k) s += ' ';
    s += fit(cellText(cols[k]!, b, i), cols[k]!, k === cols.length - 1);
  }
  return s.trimEnd();
}
