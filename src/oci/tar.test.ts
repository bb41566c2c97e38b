// Tar archives of OCI layouts: deterministic output that parses back, and entry names that cannot escape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readTar, writeTar, safeEntryName } from './tar.js';

test('tar: writer output parses back; unsafe names are refused', () => {
  const t = writeTar([
    { name: 'oci-layout', data: Buffer.from('{}'), mtime: 1700000000 },
    { name: 'blobs/sha256/' + 'c'.repeat(64), data: Buffer.alloc(1000, 7), mtime: 1700000000 },
  ]);
  assert.equal(t.length % 512, 0);
  const back = readTar(t);
  assert.deepEqual(back.map((e) => [e.name, e.data.length]), [['oci-layout', 2], ['blobs/sha256/' + 'c'.repeat(64), 1000]]);
  // deterministic
  assert.ok(t.equals(writeTar([
    { name: 'oci-layout', data: Buffer.from('{}'), mtime: 1700000000 },
    { name: 'blobs/sha256/' + 'c'.repeat(64), data: Buffer.alloc(1000, 7), mtime: 1700000000 },
  ])));
  assert.equal(safeEntryName('./index.json'), 'index.json');
  assert.throws(() => safeEntryName('../x'), /escapes the layout/);
  assert.throws(() => safeEntryName('blobs/../../x'), /escapes the layout/);
  assert.throws(() => safeEntryName('/etc/passwd'), /absolute path/);
});
