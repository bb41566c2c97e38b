#!/usr/bin/env node
// Build the C Node-API addon in native/ with npm's bundled node-gyp against the local Node headers
// (nothing is downloaded). Skips the build when the addon is newer than its sources; `--force`
// rebuilds anyway. Exits non-zero with a one-line reason when a prerequisite is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const output = join(nativeDir, 'build', 'Release', 'ig_native.node');
// The same sources with IG_TEST_HOOKS: exports that only tests call (see native/src/render_plan.c).
const testOutput = join(nativeDir, 'build', 'Release', 'ig_native_test.node');
const force = process.argv.includes('--force');

function fail(msg) {
  console.error(`build-native: ${msg}`);
  process.exit(1);
}

function newestSource() {
  let newest = statSync(join(nativeDir, 'binding.gyp')).mtimeMs;
  for (const f of readdirSync(join(nativeDir, 'src'))) {
    newest = Math.max(newest, statSync(join(nativeDir, 'src', f)).mtimeMs);
  }
  return newest;
}

if (!existsSync(join(nativeDir, 'binding.gyp'))) fail(`no binding.gyp in ${nativeDir}`);
if (!existsSync('/usr/include/bpf/libbpf.h') || !existsSync('/usr/include/bpf/bpf.h')) {
  fail('libbpf headers not found (/usr/include/bpf/libbpf.h): install libbpf-dev (bookworm-backports, >= 1.4)');
}
if (!existsSync('/usr/include/libelf.h')) fail('libelf headers not found: install libelf-dev');
if (!existsSync('/usr/include/zlib.h')) fail('zlib headers not found: install zlib1g-dev');
const nodedir = process.env.IG_NODEDIR ?? '/usr';
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  fail(`Node headers not found in ${nodedir}/include/node: install the nodejs headers or set IG_NODEDIR`);
}

if (!force && existsSync(output) && existsSync(testOutput) && statSync(output).mtimeMs >= newestSource()) {
  console.log(`build-native: ${output} is up to date`);
  process.exit(0);
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  try {
    const globalRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
    candidates.push(join(globalRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  } catch {
    // npm not on PATH: try next to the node binary
  }
  candidates.push(
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  );
  return candidates.find((c) => existsSync(c));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) fail("node-gyp not found (looked in npm's bundled copy): install npm");

// Both addons compile the same ~50 sources (one with IG_TEST_HOOKS): one make job per CPU, not node-gyp's single one
// (on 2 cores a clean clone's addon build takes about half the time).
const res = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs', 'max'], {
  cwd: nativeDir,
  stdio: 'inherit',
});
if (res.status !== 0) {
  fail(`node-gyp rebuild failed (exit ${res.status ?? res.signal}); is libbpf-dev >= 1.4 installed?`);
}
if (!existsSync(output)) fail(`node-gyp succeeded but ${output} is missing`);
if (!existsSync(testOutput)) fail(`node-gyp succeeded but ${testOutput} is missing`);
console.log(`build-native: built ${output}`);
