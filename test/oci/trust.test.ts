// Trust that works out of the box: upstream's signing key is the default for verification, --public-keys
// replaces it, and the official images built at install carry their provenance (trusted because this store
// built them, without a signature).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSPEKTOR_GADGET_PUBLIC_KEY } from '../../src/oci/default-key.js';
import { ANN_PROVENANCE } from '../../src/cli/build-official.js';
import { runIgSync } from '../harness/ig.js';

const tmp = mkdtempSync(join(tmpdir(), 'ig-firstfive-trust-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the embedded key is upstream\'s ECDSA P-256 signing key', () => {
  const key = createPublicKey(INSPEKTOR_GADGET_PUBLIC_KEY);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  // SHA-256 of the SubjectPublicKeyInfo of upstream's pkg/resources/inspektor-gadget.pub.
  const fp = createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
  assert.equal(fp, '20fe3de3a3b62df47cfee4db548392300db21c7871a50478f5e027c1901d49db');
});

test('verification uses the Inspektor Gadget key by default; --public-keys replaces it', () => {
  const store = join(tmp, 'store');
  const env = { IG_OCI_STORE: store };
  const archive = join(tmp, 'trace_open.tar');
  const exp = runIgSync(['image', 'export', 'trace_open', archive]);
  assert.equal(exp.code, 0, exp.stderr);
  const imp = runIgSync(['image', 'import', archive], { env });
  assert.equal(imp.code, 0, imp.stderr);
  const key = join(tmp, 'cosign.key');
  const pub = join(tmp, 'cosign.pub');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  execFileSync('openssl', ['ec', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
  const signed = runIgSync(['image', 'sign', 'trace_open', '--key', key], { env });
  assert.equal(signed.code, 0, signed.stderr);
  // No key given: the project's key is tried (and does not match a signature made with ours).
  const byDefault = runIgSync(['image', 'verify', 'trace_open'], { env });
  assert.equal(byDefault.code, 1);
  assert.doesNotMatch(byDefault.stderr, /no public key given/);
  assert.match(byDefault.stderr, /no given public key matches the signature/);
  const withOurs = runIgSync(['image', 'verify', 'trace_open', '--public-keys', pub], { env });
  assert.equal(withOurs.code, 0, withOurs.stderr);
});

test('official images built at install carry their provenance and run without a signature', () => {
  const r = runIgSync(['image', 'inspect', 'trace_open', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout;
  assert.ok(text.includes(ANN_PROVENANCE), `annotation ${ANN_PROVENANCE} in ${text.slice(0, 600)}`);
  assert.match(text, /official gadget built locally by ig v\d+\.\d+\.\d+ from gadgets\/trace_open \(sources sha256:[0-9a-f]{64}\)/);
  const run = runIgSync(['run', 'trace_open', '--host', '-t', '1', '-o', 'none'], { timeoutMs: 30000 });
  assert.equal(run.code, 0, run.stderr);
});
