// bin/ig starts `ig run` without NODE_EXTRA_CA_CERTS (node would parse the whole file before any JavaScript runs)
// and the registry client trusts those CAs itself (src/tls/extra-ca.ts): a pull from a TLS registry whose CA is
// given only through NODE_EXTRA_CA_CERTS works as before; without it the certificate is refused in one line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startRegistry, haveRegistry, type RegistryInstance } from '../harness/registry.js';
import { runIgSync, repoRoot } from '../harness/ig.js';

const tmp = mkdtempSync(join(tmpdir(), 'ig-h16start-extraca-'));
let reg: RegistryInstance;
let ref: string;

before(async () => {
  assert.ok(haveRegistry(), 'docker-registry is installed by setup');
  reg = await startRegistry({ tls: true });
  ref = `${reg.host}/gadgets/trace_open:extraca`;
  const env = { IG_OCI_STORE: join(tmp, 'build-store') };
  for (const s of [['image', 'build', join(repoRoot(), 'gadgets', 'trace_open'), '-t', ref], ['image', 'push', ref, '--cert-dir', reg.certDir!]]) {
    const r = runIgSync(s, { env });
    assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
  }
});

after(async () => {
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** bin/ig as users start it (IG_NO_SETUP=1: a stale build fails the test instead of rebuilding inside it). */
function binIg(args: string[], env: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const full: NodeJS.ProcessEnv = { ...process.env, IG_NO_SETUP: '1', NODE_NAME: '', ...env };
  if (full.NODE_EXTRA_CA_CERTS === undefined) delete full.NODE_EXTRA_CA_CERTS;
  const r = spawnSync(join(repoRoot(), 'bin', 'ig'), args, { encoding: 'utf8', timeout: 60000, env: full });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('ig run pulls from a TLS registry whose CA comes only from NODE_EXTRA_CA_CERTS', () => {
  const store = join(tmp, 'run-store');
  const r = binIg(['run', ref, '--host', '-t', '1', '-o', 'none', '--verify-image=false'], { IG_OCI_STORE: store, NODE_EXTRA_CA_CERTS: reg.caFile });
  assert.equal(r.code, 0, r.stderr);
  const list = binIg(['image', 'list', '-o', 'json'], { IG_OCI_STORE: store });
  assert.match(list.stdout, /gadgets\/trace_open/);
});

test('control: without the CA the registry\'s certificate is refused in one line', () => {
  const r = binIg(['run', ref, '--host', '-t', '1', '-o', 'none', '--verify-image=false'], { IG_OCI_STORE: join(tmp, 'store-noca'), NODE_EXTRA_CA_CERTS: undefined });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^Error: .*TLS certificate not trusted/);
});

test('an unreadable NODE_EXTRA_CA_CERTS is a warning, as with node itself; the root CAs still apply', () => {
  const r = binIg(['run', ref, '--host', '-t', '1', '-o', 'none', '--verify-image=false'], { IG_OCI_STORE: join(tmp, 'store-badca'), NODE_EXTRA_CA_CERTS: join(tmp, 'no-such-ca.pem') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Ignoring extra certs from `.*no-such-ca\.pem`, load failed: ENOENT/);
  assert.match(r.stderr, /^Error: .*TLS certificate not trusted/m);
});
