// An install that touches only what it must: the run command installs the run-time Debian packages only, the
// launcher says before it rebuilds (IG_NO_SETUP=1 refuses), and the package installs globally as `ig`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync, chmodSync, utimesSync, existsSync, realpathSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/ig.js';

const root = repoRoot();
const tmp = mkdtempSync(join(tmpdir(), 'ig-firstfive-install-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const readIfExists = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
const packages = (...args: string[]) => {
  const r = spawnSync(join(root, 'scripts', 'setup.sh'), ['--print-packages', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
};

test('the run-only install list has no test tools; the test list has them', () => {
  const run = packages();
  for (const p of ['clang-16', 'libbpf-dev', 'bpftool', 'libelf-dev']) assert.ok(run.includes(p), `${p} is needed to run ig`);
  for (const p of ['docker-registry', 'podman', 'containerd', 'bpftrace', 'skopeo', 'libbpf-tools', 'zsh', 'fish']) {
    assert.ok(!run.includes(p), `${p} is a test tool, not installed by ./ig`);
  }
  // Every official gadget builds on a fresh install: one with a C WASM module needs the wasm32 C toolchain at run time.
  const cWasm = readdirSync(join(root, 'gadgets')).filter((g) => /^wasm:\s*\S+\.c\s*$/m.test(readIfExists(join(root, 'gadgets', g, 'build.yaml'))));
  assert.ok(cWasm.includes('trace_exec'), `official gadgets with a C WASM module: ${cWasm.join(', ')}`);
  for (const p of ['lld-16', 'wasi-libc', 'libclang-rt-16-dev-wasm32']) assert.ok(run.includes(p), `${p} builds the WASM modules of ${cWasm.join(', ')}: ./ig must install it`);
  const withTests = packages('--test');
  for (const p of ['docker-registry', 'podman', 'bpftrace', 'zsh', 'fish', 'clang-16']) assert.ok(withTests.includes(p), p);
  // ./ig runs the run-only setup; npm test the full one.
  assert.match(readFileSync(join(root, 'bin', 'ig'), 'utf8'), /"\$here\/scripts\/setup.sh" >&2/);
  assert.match(readFileSync(join(root, 'scripts', 'test.sh'), 'utf8'), /scripts\/setup.sh --test/);
  // The OS is checked before an apt source is added, and Debian's own registry service is disabled again.
  const setup = readFileSync(join(root, 'scripts', 'setup.sh'), 'utf8');
  assert.ok(setup.indexOf('VERSION_CODENAME') < setup.indexOf('ig-backports.sources'));
  assert.match(setup, /systemctl disable --now docker-registry/);
});

/** A copy of the launcher in a tree whose setup and CLI are stand-ins that say they ran. */
function fakeTree(): string {
  const d = join(tmp, `tree-${Math.random().toString(36).slice(2)}`);
  for (const sub of ['bin', 'scripts', 'src', 'gadgets', 'include/gadget', 'native/src', 'dist/src/cli', '.build']) mkdirSync(join(d, sub), { recursive: true });
  copyFileSync(join(root, 'bin', 'ig'), join(d, 'bin', 'ig'));
  chmodSync(join(d, 'bin', 'ig'), 0o755);
  writeFileSync(join(d, 'scripts', 'setup.sh'), '#!/bin/sh\necho SETUP-RAN\n');
  chmodSync(join(d, 'scripts', 'setup.sh'), 0o755);
  writeFileSync(join(d, 'dist', 'src', 'cli', 'main.js'), 'console.log("MAIN", process.argv.slice(2).join(" "));\n');
  writeFileSync(join(d, 'package.json'), '{}');
  writeFileSync(join(d, 'src', 'a.ts'), '');
  const old = new Date(Date.now() - 3600_000);
  for (const f of ['scripts/setup.sh', 'package.json', 'src/a.ts']) utimesSync(join(d, f), old, old);
  writeFileSync(join(d, '.build', 'setup.stamp'), '');
  return d;
}

test('./ig: an up-to-date build runs at once; changed sources are announced before setup; IG_NO_SETUP=1 refuses', () => {
  const d = fakeTree();
  const ig = (env: NodeJS.ProcessEnv = {}) => spawnSync(join(d, 'bin', 'ig'), ['version'], { encoding: 'utf8', env: { ...process.env, IG_NO_SETUP: '', ...env } });
  const quiet = ig();
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stdout, 'MAIN version\n');
  assert.equal(quiet.stderr, '', 'nothing to say when nothing changed');
  writeFileSync(join(d, 'src', 'b.ts'), 'changed');
  const refused = ig({ IG_NO_SETUP: '1' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /src\/b\.ts changed since the last build.*IG_NO_SETUP=1/);
  assert.doesNotMatch(refused.stdout, /SETUP-RAN|MAIN/);
  const rebuilt = ig();
  assert.equal(rebuilt.status, 0, rebuilt.stderr);
  assert.match(rebuilt.stderr, /^ig: src\/b\.ts changed since the last build: running scripts\/setup.sh first/);
  assert.match(rebuilt.stderr, /SETUP-RAN/, 'setup output goes to stderr, after the announcement');
  assert.equal(rebuilt.stdout, 'MAIN version\n');
});

test('./ig runs the bundle when setup made one, else the compiled modules', () => {
  const d = fakeTree();
  const ig = () => spawnSync(join(d, 'bin', 'ig'), ['version'], { encoding: 'utf8', env: { ...process.env, IG_NO_SETUP: '1' } });
  assert.equal(ig().stdout, 'MAIN version\n');
  mkdirSync(join(d, 'dist', 'src', 'bundle'), { recursive: true });
  writeFileSync(join(d, 'dist', 'src', 'bundle', 'ig-start.cjs'), 'console.log("BUNDLE", process.argv.slice(2).join(" "));\n');
  const r = ig();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'BUNDLE version\n');
});

test('npm install -g . puts ig (and gadgetctl, kubectl-gadget when present) on PATH', () => {
  const prefix = join(tmp, 'global');
  const r = spawnSync('npm', ['install', '-g', '.', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(realpathSync(join(prefix, 'bin', 'ig')), realpathSync(join(root, 'bin', 'ig')));
  if (existsSync(join(root, 'bin', 'gadgetctl'))) assert.equal(realpathSync(join(prefix, 'bin', 'gadgetctl')), realpathSync(join(root, 'bin', 'gadgetctl')));
  // kubectl finds plugins by name on PATH: `kubectl gadget` runs kubectl-gadget.
  if (existsSync(join(root, 'bin', 'kubectl-gadget'))) assert.equal(realpathSync(join(prefix, 'bin', 'kubectl-gadget')), realpathSync(join(root, 'bin', 'kubectl-gadget')));
});
