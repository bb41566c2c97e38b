// The code cache is used only when it is exactly this bundle's, this node's and these flags': every other file
// (missing, stale, corrupted, truncated, rejected by V8, unwritable) falls back to a normal compile, silently, and
// the run's result is the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheFileFor, readCache, writeCache } from './code-cache.js';

const tmp = mkdtempSync(join(tmpdir(), 'ig-h16start-codecache-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const MODULE = fileURLToPath(new URL('./code-cache.js', import.meta.url));

let n = 0;
/** A bundle of its own: prints a value and what require/__filename give it, exits with `code`. */
function bundle(value: string, code = 0): { dir: string; file: string; cache: string } {
  const dir = join(tmp, `b${n++}`);
  const file = join(dir, 'b.cjs');
  const body = [
    '#!/usr/bin/env node',
    '"use strict";',
    'const path = require("node:path");',
    // enough functions that V8 has something to cache
    ...Array.from({ length: 50 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i}; }`),
    `let s = 0; for (let i = 0; i < 50; i++) s += eval("f" + i)(i);`,
    `console.log("VALUE ${value}", s, path.basename(__filename), typeof module.exports, require("node:os").EOL === "\\n");`,
    `process.exitCode = ${code};`,
  ].join('\n');
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(file, `${body}\n`);
  return { dir, file, cache: join(dir, 'cache', 'run.bin') };
}

function run(file: string, cache: string | undefined, nodeArgs: string[] = []): { state: string; out: string; code: number | null } {
  const script = `import(${JSON.stringify(MODULE)}).then((m) => { const s = m.runWithCodeCache({ file: ${JSON.stringify(file)}, cacheFile: ${cache === undefined ? 'undefined' : JSON.stringify(cache)} }); process.stderr.write("STATE " + s + "\\n"); })`;
  const r = spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { encoding: 'utf8' });
  const state = /STATE (\S+)/.exec(r.stderr)?.[1] ?? `none: ${r.stderr}`;
  return { state, out: r.stdout, code: r.status };
}

const expected = (v: string) => `VALUE ${v} 41650 b.cjs object true\n`;

test('first run compiles and writes the cache; the next run uses it, with the same result', () => {
  const b = bundle('one');
  const first = run(b.file, b.cache);
  assert.deepEqual([first.state, first.out, first.code], ['missing', expected('one'), 0]);
  assert.ok(existsSync(b.cache), 'cache written at exit');
  const second = run(b.file, b.cache);
  assert.deepEqual([second.state, second.out, second.code], ['hit', expected('one'), 0]);
});

test('a corrupted, truncated or foreign cache falls back to a normal compile and is rewritten', () => {
  const b = bundle('two');
  run(b.file, b.cache);
  const good = readFileSync(b.cache);
  // one byte of the payload flipped: the checksum catches it (V8's release build would not)
  const flipped = Buffer.from(good);
  flipped[flipped.length - 100]! ^= 0xff;
  writeFileSync(b.cache, flipped);
  const r1 = run(b.file, b.cache);
  assert.deepEqual([r1.state, r1.out, r1.code], ['corrupt', expected('two'), 0]);
  assert.equal(run(b.file, b.cache).state, 'hit', 'rewritten after the fallback');
  // truncated
  writeFileSync(b.cache, good.subarray(0, good.length >> 1));
  assert.deepEqual([run(b.file, b.cache).state, run(b.file, b.cache).state], ['corrupt', 'hit']);
  // garbage, an empty file, a header only
  for (const bad of [Buffer.from('not a cache at all'), Buffer.alloc(0), good.subarray(0, good.indexOf(10) + 1)]) {
    writeFileSync(b.cache, bad);
    const r = run(b.file, b.cache);
    assert.deepEqual([r.state, r.out], ['corrupt', expected('two')]);
  }
  // a well-formed file whose payload V8 does not accept (right key and checksum, bytes that are no code cache)
  const key = good.subarray(0, good.indexOf(10)).toString('latin1').split(' ')[2]!;
  writeCache(b.cache, key, Buffer.alloc(4096, 7));
  const rejected = run(b.file, b.cache);
  assert.deepEqual([rejected.state, rejected.out, rejected.code], ['rejected', expected('two'), 0]);
  assert.equal(run(b.file, b.cache).state, 'hit');
});

test('a cache file another user owns, or others could have written, is never used', () => {
  const b = bundle('mine');
  run(b.file, b.cache);
  assert.equal(run(b.file, b.cache).state, 'hit');
  chmodSync(b.cache, 0o666);
  assert.deepEqual(Object.values(run(b.file, b.cache)), ['untrusted', expected('mine'), 0]);
  chmodSync(b.cache, 0o644);
  assert.equal(run(b.file, b.cache).state, 'hit');
  if (process.getuid?.() === 0) {
    chownSync(b.cache, 65534, 65534); // nobody
    assert.deepEqual(Object.values(run(b.file, b.cache)), ['untrusted', expected('mine'), 0]);
  }
});

test('another bundle of the same length, other node flags: the cache is stale, never used', () => {
  const b = bundle('aaa');
  run(b.file, b.cache);
  assert.equal(run(b.file, b.cache).state, 'hit');
  // Same length, other content (V8 itself only compares the length): the new code runs.
  const before = statSync(b.file);
  writeFileSync(b.file, readFileSync(b.file, 'utf8').replace('VALUE aaa', 'VALUE bbb'));
  utimesSync(b.file, before.atime, before.mtime); // even with its old mtime back: the ctime moved
  const changed = run(b.file, b.cache);
  assert.equal(changed.out, expected('bbb'));
  assert.notEqual(changed.state, 'hit');
  assert.equal(run(b.file, b.cache).state, 'hit');
  const flags = run(b.file, b.cache, ['--max-semi-space-size=2']);
  assert.deepEqual([flags.state, flags.out], ['stale', expected('bbb')]);
});

test('a failed run writes no cache; an unwritable cache place and IG_CODE_CACHE=0 change nothing but speed', () => {
  const failed = bundle('fail', 3);
  const r = run(failed.file, failed.cache);
  assert.deepEqual([r.state, r.out, r.code], ['missing', expected('fail'), 3]);
  assert.ok(!existsSync(failed.cache));
  const b = bundle('ro');
  writeFileSync(join(b.dir, 'file'), '');
  const unwritable = join(b.dir, 'file', 'cache', 'run.bin'); // under a regular file: mkdir fails
  for (let i = 0; i < 2; i++) assert.deepEqual(Object.values(run(b.file, unwritable)), ['missing', expected('ro'), 0]);
  assert.deepEqual(Object.values(run(b.file, undefined)), ['off', expected('ro'), 0]);
  assert.equal(readCache(join(b.dir, 'nothing'), 'k').state, 'missing');
});

test('cacheFileFor: one file per command kind, IG_CODE_CACHE_DIR moves them, IG_CODE_CACHE=0 turns caching off', () => {
  assert.equal(cacheFileFor(['run', 'trace_open'], '/b', {}, []), '/b/code-cache/run.bin');
  assert.equal(cacheFileFor(['-v', 'image', 'list'], '/b', {}, []), '/b/code-cache/image.bin');
  assert.equal(cacheFileFor(['version'], '/b', {}, []), '/b/code-cache/other.bin');
  assert.equal(cacheFileFor([], '/b', {}, []), '/b/code-cache/other.bin');
  assert.equal(cacheFileFor(['run'], '/b', { IG_CODE_CACHE_DIR: '/c' }, []), '/c/run.bin');
  assert.equal(cacheFileFor(['run'], '/b', { IG_CODE_CACHE: '0' }), undefined);
  const flagged = cacheFileFor(['run'], '/b', {}, ['--max-semi-space-size=1']);
  assert.match(flagged!, /^\/b\/code-cache\/run-[0-9a-f]{8}\.bin$/);
  assert.notEqual(flagged, cacheFileFor(['run'], '/b', {}, ['--max-semi-space-size=2']));
});
