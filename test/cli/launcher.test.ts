// The launcher (bin/ig, src/launcher/): the code cache on the real ig bundle (the second start of a command uses the
// cache the first one wrote; a damaged cache gives the same output through a normal compile), and which commands
// start node without NODE_EXTRA_CA_CERTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
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
  // the resident set at each mark (bench/startup.bench.ts reads it): rss/anon/file/hwm kB
  assert.match(first.stderr, /^startup-memory: main \d+\/\d+\/\d+\/\d+, config \d+\//m);
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

const CTL_START = join(repoRoot(), 'dist', 'src', 'bundle', 'gadgetctl-start.cjs');

test('gadgetctl-start.cjs: first start writes its cache (gadgetctl-<command>.bin), the next uses it, same output', { skip: !existsSync(CTL_START) && 'no bundle (scripts/bundle.mjs)' }, () => {
  const dir = join(tmp, 'ctl-cache');
  const ctl = (args: string[]) => {
    const r = spawnSync(process.execPath, [CTL_START, ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, IG_TRACE_STARTUP: '1', IG_CODE_CACHE_DIR: dir } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, cache: /startup: gadgetctl cache-(\w+)/.exec(r.stderr)?.[1] };
  };
  const first = ctl(['--help']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.cache, 'missing');
  assert.match(first.stdout, /gadgetctl/);
  assert.ok(existsSync(join(dir, 'gadgetctl-other.bin')));
  const second = ctl(['--help']);
  assert.deepEqual([second.code, second.cache, second.stdout], [0, 'hit', first.stdout]);
  // an error is one line, from a cached compile too (nothing listens there)
  const bad = ctl(['list', '--remote-address', `unix://${join(tmp, 'no-daemon.sock')}`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: cannot reach the ig daemon at unix:\/\/.*no-daemon\.sock/m);
});

/** A tree with the real bin/ig and ig-start.cjs, and an ig.cjs that reports the environment node started with. */
function launcherTree(): string {
  const d = join(tmp, `tree-${Math.random().toString(36).slice(2)}`);
  for (const sub of ['bin', 'scripts', 'src', 'dist/src/cli', 'dist/src/bundle', '.build']) mkdirSync(join(d, sub), { recursive: true });
  copyFileSync(join(repoRoot(), 'bin', 'ig'), join(d, 'bin', 'ig'));
  chmodSync(join(d, 'bin', 'ig'), 0o755);
  copyFileSync(START, join(d, 'dist', 'src', 'bundle', 'ig-start.cjs'));
  writeFileSync(join(d, 'dist', 'src', 'cli', 'main.js'), '');
  writeFileSync(join(d, 'dist', 'src', 'bundle', 'ig.cjs'), [
    'const initial = require("node:fs").readFileSync("/proc/self/environ", "utf8").split("\\0");',
    'const child = require("node:child_process").execFileSync("sh", ["-c", "echo $NODE_EXTRA_CA_CERTS"], { encoding: "utf8" }).trim();',
    'if (process.env.H16_SHOW_FLAGS) { console.log(JSON.stringify(process.execArgv)); return; }',
    'console.log(JSON.stringify({ nodeStartedWith: initial.find((e) => e.startsWith("NODE_EXTRA_CA_CERTS=")) ?? null, deferred: process.env.IG_DEFERRED_EXTRA_CA_CERTS ?? null, child }));',
  ].join('\n'));
  writeFileSync(join(d, 'package.json'), '{}');
  writeFileSync(join(d, 'scripts', 'setup.sh'), '#!/bin/sh\necho SETUP-RAN\n');
  const old = new Date(Date.now() - 3600_000);
  for (const f of ['scripts/setup.sh', 'package.json']) utimesSync(join(d, f), old, old);
  writeFileSync(join(d, '.build', 'setup.stamp'), '');
  const stamped = new Date(Date.now() - 1800_000); // older than anything a test writes now, newer than the tree
  utimesSync(join(d, '.build', 'setup.stamp'), stamped, stamped);
  return d;
}

test('bin/ig: run and replay start node without NODE_EXTRA_CA_CERTS (handed over, back for child processes); other commands and NODE_NAME keep it', { skip: !existsSync(START) && 'no bundle' }, () => {
  const d = launcherTree();
  const ig = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(join(d, 'bin', 'ig'), args, { encoding: 'utf8', env: { ...process.env, IG_NO_SETUP: '1', NODE_EXTRA_CA_CERTS: '/h16/cas.pem', NODE_NAME: '', ...env } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { nodeStartedWith: string | null; deferred: string | null; child: string };
  };
  const deferred = { nodeStartedWith: null, deferred: '/h16/cas.pem', child: '/h16/cas.pem' };
  const kept = { nodeStartedWith: 'NODE_EXTRA_CA_CERTS=/h16/cas.pem', deferred: null, child: '/h16/cas.pem' };
  assert.deepEqual(ig(['run', 'trace_open']), deferred);
  assert.deepEqual(ig(['-v', 'replay', 'x.rec']), deferred);
  assert.deepEqual(ig(['--config', 'run', 'run', 'trace_open']), deferred, 'the value of --config is not the command');
  assert.deepEqual(ig(['--config', 'run', 'image', 'list']), kept);
  assert.deepEqual(ig(['image', 'pull', 'x']), kept);
  assert.deepEqual(ig(['run', 'trace_open'], { NODE_NAME: 'node-1' }), kept);
  assert.deepEqual(ig(['run', 'trace_open'], { NODE_EXTRA_CA_CERTS: '' }), { nodeStartedWith: 'NODE_EXTRA_CA_CERTS=', deferred: null, child: '' });
});

test('bin/ig checks the sources beside node\'s start: a changed source is announced and rebuilt before the bundle runs; IG_NO_SETUP=1 refuses', { skip: !existsSync(START) && 'no bundle' }, () => {
  const d = launcherTree();
  mkdirSync(join(d, 'src', 'x'), { recursive: true });
  writeFileSync(join(d, 'src', 'x', 'a.ts'), '');
  const old = new Date(Date.now() - 3600_000);
  utimesSync(join(d, 'src', 'x', 'a.ts'), old, old);
  // setup stand-in: says it ran, rebuilds the bundle (a new ig.cjs) and stamps the build
  const bundle = join(d, 'dist', 'src', 'bundle', 'ig.cjs');
  writeFileSync(join(d, 'scripts', 'setup.sh'), `#!/bin/sh\necho SETUP-RAN\necho 'console.log("REBUILT", process.argv.slice(2).join(" "))' > '${bundle}'\n[ -n "$FAIL_SETUP" ] && exit 3\ntouch '${join(d, '.build', 'setup.stamp')}'\n`);
  utimesSync(join(d, 'scripts', 'setup.sh'), old, old);
  const quiet = spawnSync(join(d, 'bin', 'ig'), ['version'], { encoding: 'utf8', env: { ...process.env, IG_NO_SETUP: '' } });
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stderr, '', 'nothing to say when nothing changed');
  assert.match(quiet.stdout, /nodeStartedWith/, 'the bundle ran');
  writeFileSync(join(d, 'src', 'x', 'b.ts'), 'changed');
  const notExecutable = spawnSync(join(d, 'bin', 'ig'), ['version'], { encoding: 'utf8', env: { ...process.env, IG_NO_SETUP: '' } });
  assert.deepEqual([notExecutable.status, notExecutable.stdout], [1, '']);
  assert.match(notExecutable.stderr, /^ig: cannot run .*scripts\/setup\.sh: EACCES$/m);
  chmodSync(join(d, 'scripts', 'setup.sh'), 0o755);
  const ig = (env: NodeJS.ProcessEnv = {}) => spawnSync(join(d, 'bin', 'ig'), ['version'], { encoding: 'utf8', env: { ...process.env, IG_NO_SETUP: '', ...env } });
  const refused = ig({ IG_NO_SETUP: '1' });
  assert.equal(refused.status, 1);
  assert.equal(refused.stdout, '', 'nothing ran');
  assert.match(refused.stderr, /^ig: the build is out of date \(src\/x\/b\.ts changed since the last build\) and IG_NO_SETUP=1 forbids rebuilding/);
  const failed = ig({ FAIL_SETUP: '1' });
  assert.deepEqual([failed.status, failed.stdout], [3, ''], `a failed setup ends the command with its status: ${failed.stderr}`);
  const rebuilt = ig();
  assert.equal(rebuilt.status, 0, rebuilt.stderr);
  assert.match(rebuilt.stderr, /^ig: src\/x\/b\.ts changed since the last build: running scripts\/setup.sh first/);
  assert.match(rebuilt.stderr, /SETUP-RAN/, 'setup output goes to stderr, after the announcement');
  assert.equal(rebuilt.stdout, 'REBUILT version\n', 'the rebuilt bundle runs');
  const after = ig();
  assert.deepEqual([after.status, after.stderr, after.stdout], [0, '', 'REBUILT version\n']);
});

test('bin/ig: node_flags reach every command, run_node_flags only `ig run`', { skip: !existsSync(START) && 'no bundle' }, () => {
  const d = launcherTree();
  const launcher = join(d, 'bin', 'ig');
  writeFileSync(launcher, readFileSync(launcher, 'utf8').replace('node_flags=()', 'node_flags=(--no-warnings)').replace('run_node_flags=()', 'run_node_flags=(--max-semi-space-size=1)'));
  const flags = (args: string[]) => {
    const r = spawnSync(launcher, args, { encoding: 'utf8', env: { ...process.env, IG_NO_SETUP: '1', H16_SHOW_FLAGS: '1' } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as string[];
  };
  assert.deepEqual(flags(['run', 'trace_open']), ['--no-warnings', '--max-semi-space-size=1']);
  assert.deepEqual(flags(['-v', 'run', 'trace_open']), ['--no-warnings', '--max-semi-space-size=1']);
  assert.deepEqual(flags(['image', 'list']), ['--no-warnings']);
  assert.deepEqual(flags(['version']), ['--no-warnings']);
});

test('ig-start.cjs: the bundle\'s bytes and its code cache\'s are garbage once the bundle runs (1.8 MiB of start-up\'s peak held to the first full GC before)', { skip: !existsSync(START) && 'no bundle' }, () => {
  const d = join(tmp, 'garbage');
  mkdirSync(d, { recursive: true });
  copyFileSync(START, join(d, 'ig-start.cjs'));
  // a 2 MiB bundle (one comment) whose code runs inside the launcher's call, as ig's synchronous start does: what a
  // full GC cannot free there is still referenced by the launcher
  writeFileSync(join(d, 'ig.cjs'), [
    `/* ${'x'.repeat(2 * 1024 * 1024)} */`,
    // two: V8 frees dead ArrayBuffers on a concurrent sweeper, which the second GC waits for
    'globalThis.gc(); globalThis.gc();',
    'const cache = performance.getEntriesByType("mark").find((m) => m.name.startsWith("ig:cache-")).name.slice(9);',
    'console.log(JSON.stringify({ arrayBuffers: process.memoryUsage().arrayBuffers, cache }));',
  ].join('\n'));
  const run = () => {
    const r = spawnSync(process.execPath, ['--expose-gc', join(d, 'ig-start.cjs'), 'run', 'x'], { encoding: 'utf8', env: { ...process.env, IG_CODE_CACHE_DIR: join(d, 'cache') } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { arrayBuffers: number; cache: string };
  };
  const first = run();
  assert.equal(first.cache, 'missing');
  assert.ok(first.arrayBuffers < 512 * 1024, `${first.arrayBuffers} bytes of ArrayBuffers live after a full GC (the bundle is 2 MiB)`);
  const second = run(); // with the cache read: its bytes are garbage too
  assert.equal(second.cache, 'hit');
  assert.ok(second.arrayBuffers < 512 * 1024, `${second.arrayBuffers} bytes of ArrayBuffers live after a full GC with the cache read`);
});

test('ig-start.cjs: the bundle\'s text is held once while it runs, cached or not (a second 1.1 MB copy stayed to the first full GC before)', { skip: !existsSync(START) && 'no bundle' }, () => {
  // Bundles of one comment, 2 and 4 MiB, that report without any GC the memory strings of their size can be in:
  // V8's large object spaces (a flat copy V8 made) and external memory (node makes strings over ~1 MB external; the
  // bytes read, an ArrayBuffer, are left out). 2 MiB more bundle: 2 MiB more held when the text is held once, 4 when twice.
  const held = (mib: number, cache: string): number => {
    const d = join(tmp, `one-text-${mib}`);
    if (!existsSync(d)) {
      mkdirSync(d, { recursive: true });
      copyFileSync(START, join(d, 'ig-start.cjs'));
      writeFileSync(join(d, 'ig.cjs'), [
        `/* ${'x'.repeat(mib * 1024 * 1024)} */`,
        'const lo = require("v8").getHeapSpaceStatistics().filter((s) => /large_object/.test(s.space_name)).reduce((n, s) => n + s.space_used_size, 0);',
        'const m = process.memoryUsage();',
        'const cache = performance.getEntriesByType("mark").find((k) => k.name.startsWith("ig:cache-")).name.slice(9);',
        'console.log(JSON.stringify({ held: lo + m.external - m.arrayBuffers, cache }));',
      ].join('\n'));
    }
    const r = spawnSync(process.execPath, [join(d, 'ig-start.cjs'), 'run', 'x'], { encoding: 'utf8', env: { ...process.env, IG_CODE_CACHE_DIR: join(d, 'cache') } });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { held: number; cache: string };
    assert.equal(out.cache, cache);
    return out.held;
  };
  for (const cache of ['missing', 'hit']) {
    const more = (held(4, cache) - held(2, cache)) / 1048576;
    assert.ok(more < 3, `${more.toFixed(2)} MiB more of large strings and external memory for 2 MiB more bundle (cache ${cache})`);
  }
});

test('ig-start.cjs: `ig run` defers V8\'s optimizing compiler (no early tier-up of small functions); other commands and IG_DEFER_TIER_UP=0 keep V8\'s defaults', { skip: !existsSync(START) && 'no bundle' }, () => {
  const d = join(tmp, 'tier-up');
  mkdirSync(d, { recursive: true });
  copyFileSync(START, join(d, 'ig-start.cjs'));
  // a small function called often: V8 marks it for TurboFan on its first tick ("small function") by default
  writeFileSync(join(d, 'ig.cjs'), 'function add(a, b) { return a + b; }\nlet s = 0;\nfor (let i = 0; i < 200000; i++) s = add(s, i);\nconsole.log(s);\n');
  const early = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, ['--trace-opt', join(d, 'ig-start.cjs'), ...args], { encoding: 'utf8', env: { ...process.env, IG_CODE_CACHE: '0', ...env } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^19999900000$/m, 'the bundle ran');
    return /<JSFunction add .*reason: small function/.test(r.stdout);
  };
  assert.equal(early(['run', 'trace_open']), false);
  assert.equal(early(['-v', 'run', 'trace_open']), false);
  assert.equal(early(['--config', 'run', 'version']), true, 'the value of --config is not the command');
  assert.equal(early(['version']), true);
  assert.equal(early(['run', 'trace_open'], { IG_DEFER_TIER_UP: '0' }), true);
});

test('ig-start.cjs: `ig run` of a stored image loads none of node\'s zlib, tls, readline and fs/promises, nor fs.promises\' internals (each stays resident once loaded)', { skip: !existsSync(START) && 'no bundle' }, () => {
  const hook = join(tmp, 'builtins.cjs');
  writeFileSync(hook, "process.on('exit', () => process.stderr.write('\\nbuiltins: ' + JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13))) + '\\n'));\n");
  const r = spawnSync(process.execPath, ['-r', hook, START, 'run', 'trace_open', '--pull', 'never', '--timeout', '1', '-o', 'json', '--pid', '1'],
    { encoding: 'utf8', timeout: 60000, env: { ...process.env, IG_CODE_CACHE_DIR: join(tmp, 'builtins-cache') } });
  assert.equal(r.status, 0, r.stderr);
  const loaded = JSON.parse(/^builtins: (.*)$/m.exec(r.stderr)![1]!) as string[];
  assert.ok(loaded.includes('crypto') && loaded.includes('child_process'), `the list is node's modules: ${loaded.join(' ')}`);
  // internal/fs/promises: what fs.promises loads (the store's reads before the first event went through it)
  assert.deepEqual(loaded.filter((m) => ['zlib', 'tls', '_tls_wrap', 'readline', 'fs/promises', 'internal/fs/promises'].includes(m)), []);
});
