// The suite's runner starts the slowest files first, unknown ones before them all (scripts/test.sh, run-files.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slowestFirst } from './run-files.js';

test('files start slowest first; a file without a known time first of all; ties in name order', () => {
  const w = new Map([['/d/a.test.js', 100], ['/d/b.test.js', 50_000], ['/d/c.test.js', 100], ['/d/e.test.js', 9_000]]);
  assert.deepEqual(slowestFirst(['/d/a.test.js', '/d/b.test.js', '/d/c.test.js', '/d/new.test.js', '/d/e.test.js'], w),
    ['/d/new.test.js', '/d/b.test.js', '/d/e.test.js', '/d/a.test.js', '/d/c.test.js']);
});
