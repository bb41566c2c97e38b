// build → sign → push → run from an empty store: ig run pulls from a real registry, verifies the signature
// and runs the official trace_open gadget; unsigned and disallowed images are refused in one line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { startRegistry, haveRegistry, type RegistryInstance } from '../harness/registry.js';
import { IgProcess, runIgSync, repoRoot } from '../harness/ig.js';

const tmp = mkdtempSync(join(tmpdir(), 'ig-pulled-'));
const buildStore = join(tmp, 'build-store');
const runStore = join(tmp, 'run-store');
let reg: RegistryInstance;
let ref: string;
let pub: string;

before(async () => {
  assert.ok(haveRegistry(), 'docker-registry is installed by setup');
  reg = await startRegistry();
  ref = `${reg.host}/gadgets/trace_open:v1`;
  const key = join(tmp, 'cosign.key');
  pub = join(tmp, 'cosign.pub');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  execFileSync('openssl', ['ec', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
  const env = { IG_OCI_STORE: buildStore };
  const steps = [
    ['image', 'build', join(repoRoot(), 'gadgets', 'trace_open'), '-t', ref],
    ['image', 'sign', ref, '--key', key],
    ['image', 'push', ref, '--insecure-registries', reg.host],
    ['image', 'build', join(repoRoot(), 'gadgets', 'trace_open'), '-t', `${reg.host}/gadgets/unsigned:v1`],
    ['image', 'push', `${reg.host}/gadgets/unsigned:v1`, '--insecure-registries', reg.host],
  ];
  for (const s of steps) {
    const r = runIgSync(s, { env });
    assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
  }
});

after(async () => {
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('ig run pulls a signed image into an empty store, verifies it and runs it', async () => {
  const ig = new IgProcess(['run', ref, '--host', '-o', 'json', '--insecure-registries', reg.host, '--public-keys', pub, '--filter', 'proc.comm==cat'], { IG_OCI_STORE: runStore });
  const ev = await ig.waitFor<{ fname: string }>((e) => e.fname === '/etc/hostname', () => { spawn('cat', ['/etc/hostname'], { stdio: 'ignore' }); }, { timeoutMs: 40000 });
  const r = await ig.stop();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ev.fname, '/etc/hostname');
  const list = runIgSync(['image', 'list', '-o', 'json'], { env: { IG_OCI_STORE: runStore } });
  assert.match(list.stdout, /gadgets\/trace_open/);
});

test('an unsigned pulled image is refused in one line; --verify-image=false runs it', () => {
  const env = { IG_OCI_STORE: join(tmp, 'store-unsigned') };
  const r = runIgSync(['run', `${reg.host}/gadgets/unsigned:v1`, '--host', '-t', '1', '--insecure-registries', reg.host, '--public-keys', pub], { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^Error: .*(signature|signed)/i);
  const ok = runIgSync(['run', `${reg.host}/gadgets/unsigned:v1`, '--host', '-t', '1', '-o', 'none', '--insecure-registries', reg.host, '--verify-image=false'], { env });
  assert.equal(ok.code, 0, ok.stderr);
});

test('--allowed-gadgets is enforced after resolution', () => {
  const env = { IG_OCI_STORE: runStore };
  const r = runIgSync(['run', ref, '--host', '-t', '1', '--insecure-registries', reg.host, '--public-keys', pub, '--allowed-gadgets', 'ghcr.io/inspektor-gadget/*'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: .*not (in the )?allowed/i);
  const ok = runIgSync(['run', ref, '--host', '-t', '1', '-o', 'none', '--insecure-registries', reg.host, '--public-keys', pub, '--allowed-gadgets', `${reg.host}/gadgets/*`], { env });
  assert.equal(ok.code, 0, ok.stderr);
});

test('--pull never with an absent image, --disallow-pulling', () => {
  const env = { IG_OCI_STORE: join(tmp, 'store-empty') };
  const a = runIgSync(['run', ref, '--pull', 'never'], { env });
  assert.equal(a.code, 1);
  assert.match(a.stderr, /not found/);
  const b = runIgSync(['run', ref, '--disallow-pulling', '--insecure-registries', reg.host], { env });
  assert.equal(b.code, 1);
  assert.match(b.stderr, /pulling/i);
});
