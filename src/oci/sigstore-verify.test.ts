// Signature checks through sigstore-js: simple-signing payloads (ECDSA and Ed25519) and DSSE bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { statementSubjectDigests, verifyDsseBundle, verifyPayloadSignature } from './sigstore-verify.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ed = generateKeyPairSync('ed25519');

test('simple-signing payloads: the right key verifies, another key or a changed payload does not', () => {
  const payload = Buffer.from('{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}');
  const sig = sign('sha256', payload, ec.privateKey).toString('base64');
  assert.equal(verifyPayloadSignature(payload, sig, [ec2.publicKey, ec.publicKey]), true);
  assert.equal(verifyPayloadSignature(payload, sig, [ec2.publicKey]), false);
  assert.equal(verifyPayloadSignature(Buffer.concat([payload, Buffer.from(' ')]), sig, [ec.publicKey]), false);
  assert.equal(verifyPayloadSignature(payload, 'bm90IGEgc2lnbmF0dXJl', [ec.publicKey]), false);
  const edSig = sign(null, payload, ed.privateKey).toString('base64');
  assert.equal(verifyPayloadSignature(payload, edSig, [ec.publicKey, ed.publicKey]), true);
  assert.equal(verifyPayloadSignature(payload, edSig, [ec.publicKey]), false);
});

function dsseBundle(statement: Buffer, key = ec.privateKey, extra: Record<string, unknown> = {}): Buffer {
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]);
  return Buffer.from(JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'k' }, tlogEntries: [], ...extra },
    dsseEnvelope: { payload: statement.toString('base64'), payloadType: type, signatures: [{ sig: sign('sha256', pae, key).toString('base64'), keyid: '' }] },
  }));
}

test('DSSE bundles: verified payload and its subjects; wrong key, bad JSON and no envelope are reasons', () => {
  const st = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: 'ab'.repeat(32) } }], predicateType: 'p', predicate: {} }));
  const ok = verifyDsseBundle(dsseBundle(st), [ec2.publicKey, ec.publicKey]);
  assert.equal(ok.ok, true);
  assert.deepEqual(ok.ok && statementSubjectDigests(ok.payload), [`sha256:${'ab'.repeat(32)}`]);
  assert.deepEqual(verifyDsseBundle(dsseBundle(st), [ec2.publicKey]), { ok: false, reason: 'no given public key matches the signature' });
  assert.match((verifyDsseBundle(Buffer.from('{'), [ec.publicKey]) as { reason: string }).reason, /not a valid sigstore bundle/);
  assert.equal(statementSubjectDigests(Buffer.from('nope')).length, 0);
});
