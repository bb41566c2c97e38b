import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstanceSpecs } from './instance-spec.js';

test('several instance specs per file', () => {
  const specs = parseInstanceSpecs([
    'apiVersion: 1', 'kind: instance-spec', 'image: trace_open', 'name: a', 'tags: [x, y]', 'paramValues:', '  operator.LocalManager.host: true',
    '---', 'apiVersion: 1', 'kind: instance-spec', 'image: trace_exec', 'id: 0123456789abcdef0123456789abcdef',
  ].join('\n'), 'f.yaml');
  assert.equal(specs.length, 2);
  assert.deepEqual(specs[0], { apiVersion: 1, kind: 'instance-spec', image: 'trace_open', id: '', name: 'a', tags: ['x', 'y'], nodes: [], paramValues: { 'operator.LocalManager.host': 'true' } });
  assert.equal(specs[1]!.id, '0123456789abcdef0123456789abcdef');
});

test('bad specs name the entry and what is wrong', () => {
  const base = 'apiVersion: 1\nkind: instance-spec\nimage: x\n';
  assert.throws(() => parseInstanceSpecs(`${base}---\napiVersion: 2\nkind: instance-spec\nimage: x\n`, 'f'), /^Error: f: expected apiVersion 1 for entry 2, got 2$/);
  assert.throws(() => parseInstanceSpecs('apiVersion: 1\nkind: instance-spec\n', 'f'), /no image specified in entry 1/);
  assert.throws(() => parseInstanceSpecs(`${base}name: Bad Name\n`, 'f'), /invalid instance name "Bad Name" in entry 1/);
  assert.throws(() => parseInstanceSpecs(`${base}id: xyz\n`, 'f'), /invalid instance id "xyz"/);
  assert.throws(() => parseInstanceSpecs(`${base}tags: ["a,b"]\n`, 'f'), /invalid character "," in tag "a,b"/);
  assert.throws(() => parseInstanceSpecs('', 'f'), /no instance spec/);
});
