// Column output: header once, then one aligned row per record; widths, alignment, ellipsis from annotations.
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { Kind, baseKind, isNumericKind } from '../../datasource/index.js';

export interface Column {
  field: Field;
  value: Field;           // the field whose value is printed (columns.replace)
  header: string;
  width: number;
  right: boolean;
  ellipsis: 'end' | 'start' | 'middle' | 'none';
  hex: boolean;
  precision?: number;
}

export function columnFor(ds: DataSource, f: Field): Column {
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
    right: a('alignment') === 'right',
    ellipsis: ell === 'start' || ell === 'middle' || ell === 'none' ? ell : 'end',
    hex: a('hex') === 'true',
    precision: precision !== undefined ? Number(precision) : undefined,
  };
}

export function fit(s: string, c: Column, last: boolean): string {
  const w = c.width;
  if (s.length > w) {
    if (c.ellipsis === 'none' || w < 2) s = s.slice(0, w);
    else if (c.ellipsis === 'start') s = '…' + s.slice(s.length - w + 1);
    else if (c.ellipsis === 'middle') { const h = Math.floor((w - 1) / 2); s = s.slice(0, h) + '…' + s.slice(s.length - (w - 1 - h)); }
    else s = s.slice(0, w - 1) + '…';
  }
  if (s.length === w) return s;
  if (c.right) return s.padStart(w);
  return last ? s : s.padEnd(w);
}

export function cellText(c: Column, b: Batch, i: number): string {
  const v = c.value.get(b, i);
  if (v === undefined || v === null) return '';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (c.hex && (typeof v === 'number' || typeof v === 'bigint')) return '0x' + v.toString(16);
  if (typeof v === 'number' && c.precision !== undefined && (baseKind(c.value.kind) === Kind.Float32 || baseKind(c.value.kind) === Kind.Float64)) return v.toFixed(c.precision);
  if (Array.isArray(v)) return v.join(',');
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
