// The launcher's code cache on the real ig bundle (src/launcher/, what bin/ig runs): the second start of a command
// uses the cache the first one wrote; a damaged cache gives the same output through a normal compile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/ig.js';

const START = join(repoRoot(), 'dist', 'src', 'bundle', 'ig-start.cjs');
const tmp = mkdtempSync(join(tmpdir(), 'ig-h16start-launcher-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function ig(args: string[], env: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string; cache?: string } {
  const r = spawnSync(process.execPath, [START, ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, IG_TRACE_STARTUP: '1', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, cache: /startup: .*?cache-(\w+)/.exec(r.stderr)?.[1] };
}

test('ig-start.cjs: first start writes the command\'s cache, the next uses it; a damaged one is ignored and replaced', { skip: !existsSync(START) && 'no bundle (scripts/bundle.mjs)' }, () => {
  const dir = join(tmp, 'cache');
  const env = { IG_CODE_CACHE_DIR: dir };
  const first = ig(['version'], env);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.cache, 'missing');
  const file = join(dir, 'other.bin');
  assert.ok(existsSync(file));
  const second = ig(['version'], env);
  assert.deepEqual([second.code, second.cache, second.stdout], [0, 'hit', first.stdout]);
  const raw = readFileSync(file);
  writeFileSync(file, raw.subarray(0, raw.length - 1000));
  const damaged = ig(['version'], env);
  assert.deepEqual([damaged.code, damaged.cache, damaged.stdout], [0, 'corrupt', first.stdout]);
  assert.equal(ig(['version'], env).cache, 'hit');
  // a failing command leaves its kind's cache unwritten, and says what is wrong in one line as always
  const bad = ig(['image', 'inspect', 'no-such-image-h16start'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: .*no-such-image-h16start/m);
  assert.ok(!existsSync(join(dir, 'image.bin')));
  // IG_CODE_CACHE=0: no cache read or written
  const off = ig(['version'], { IG_CODE_CACHE_DIR: join(tmp, 'off'), IG_CODE_CACHE: '0' });
  assert.deepEqual([off.code, off.cache, off.stdout, existsSync(join(tmp, 'off'))], [0, 'off', first.stdout, false]);
});

test('ig-start.cjs: import() inside the bundle works from a code cache too (a WASM gadget loads node:wasi lazily)', { skip: !existsSync(START) && 'no bundle (scripts/bundle.mjs)' }, () => {
  // Node 20 drops a cached vm.Script's dynamic-import loader: the bundle's import() goes through the launcher's
  const env = { IG_CODE_CACHE_DIR: join(tmp, 'wasm') };
  const args = ['run', 'trace_exec', '--host', '--timeout', '1', '-o', 'json'];
  const first = ig(args, env);
  assert.equal(first.code, 0, first.stderr);
  const second = ig(args, env);
  assert.equal(second.cache, 'hit');
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /dynamic import/);
});
