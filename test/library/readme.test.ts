// README's library example, extracted and run as written (as root, real eBPF) from a project that depends on ig.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../harness/ig.js';
import { consumerProject, ensureDeclarations } from './consumer.js';

const p = consumerProject('ig-h18lib-readme-');
before(() => ensureDeclarations());
after(() => p.cleanup());

/** The code block after the `library-example` marker. */
export function readmeExample(): string {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const m = /<!-- library-example:[^>]*-->\n```js\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(m, 'README has the library example block');
  return m[1]!;
}

test('the README example is about 20 lines', () => {
  const n = readmeExample().split('\n').length;
  assert.ok(n >= 10 && n <= 25, `${n} lines`);
});

test('the README example runs as written and prints the event of the cat it triggers', () => {
  writeFileSync(join(p.dir, 'example.mjs'), readmeExample() + '\n');
  const r = spawnSync(process.execPath, ['example.mjs'], { cwd: p.dir, encoding: 'utf8', timeout: 60000, env: process.env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^cat\[\d+\] opened \/etc\/hostname \(fd \d+\)$/m);
  assert.match(r.stdout, /^lost events: 0$/m);
  // The filter let only cat through.
  for (const line of r.stdout.trim().split('\n').slice(0, -1)) assert.match(line, /^cat\[/);
});
