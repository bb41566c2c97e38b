// Recordings written before format version 2 (raw deflate chunks, JS writer) still replay: the fixture is a real
// `ig run trace_open --host --comm h18fxcat -o json --record` of version 1, and the JSON its live run printed (its
// keys since sorted by name at each level, as ig prints them now: upstream's json formatter order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIgSync } from '../harness/ig.js';

// dist/test/record → the sources' fixtures
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'record', 'fixtures');
const V1 = join(FIXTURES, 'trace_open-v1.igrec');

test('a version 1 recording (deflate chunks) replays byte for byte what its live run printed', () => {
  const bytes = readFileSync(V1);
  assert.equal(bytes[8], 1, 'the fixture is a version 1 file');
  const r = runIgSync(['replay', V1, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(join(FIXTURES, 'trace_open-v1.json'), 'utf8'));
  assert.equal(r.stderr, '');
  const info = runIgSync(['replay', '--info', V1]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^ {2}open: 64 records in 2 batches, 0 lost$/m);
});
