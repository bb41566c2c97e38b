// Default columns: visible fields in order, path columns last (the last column is never cut).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, Kind } from '../../datasource/index.js';
import { defaultColumnFields, isPathColumn, selectFields } from './fields.js';

function ds(): DataSource {
  const d = new DataSource('x', 'single');
  let offs = 0;
  const add = (name: string, kind: number, annotations: Record<string, string> = {}) => {
    const size = kind === Kind.CString ? 32 : 4;
    d.addField({ name, kind, annotations, storage: { type: 'static', offs, size } });
    offs += size;
  };
  add('comm', Kind.CString);
  add('fname', Kind.CString);
  add('pid', Kind.Uint32);
  add('src', Kind.CString, { 'columns.path': 'true' });
  add('file', Kind.Uint32); // a number named like a path is not one
  add('cwd', Kind.CString, { 'columns.path': 'false' });
  add('error', Kind.CString);
  return d;
}

test('path columns go last in their own order; columns.path decides, else the usual names of string paths', () => {
  const d = ds();
  assert.deepEqual(defaultColumnFields(d).map((f) => f.name), ['comm', 'pid', 'file', 'cwd', 'error', 'fname', 'src']);
  assert.deepEqual(d.fields.filter(isPathColumn).map((f) => f.name), ['fname', 'src']);
});

test('--fields keeps the order the user gives; +field appends after the defaults', () => {
  const d = ds();
  assert.deepEqual(selectFields(d, 'fname,pid').map((f) => f.name), ['fname', 'pid']);
  assert.deepEqual(selectFields(d, '-error').map((f) => f.name), ['comm', 'pid', 'file', 'cwd', 'fname', 'src']);
});
