// OCI 1.1 signing referrers against a real registry (Debian docker-registry 2.8, which has no referrers API, so
// the referrers tag schema is used): a cosign simple-signing referrer and a sigstore bundle (DSSE envelope over an
// in-toto statement), each made here with node:crypto the way cosign lays them out, are pulled with the image and
// verified through sigstore-js; a wrong key, a bundle for another digest and a referrer attached to another image
// are refused with one line; push and export/import carry the referrers along.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { buildImage, getGadgetImage, tagImage, OciError } from '../../src/oci/index.js';
import { registryClient } from '../../src/oci/image-lookup.js';
import { parseReference } from '../../src/oci/reference.js';
import { startRegistry, haveRegistry, type RegistryInstance } from '../harness/registry.js';
import { cleanupTmp, ensureVmlinux, haveTool, makeKeyPair, oneErrorLine, runCli, tmpDir, TESTDATA } from './helpers.js';

const skip = !haveRegistry() || !haveTool('openssl') ? 'docker-registry/openssl not installed (scripts/deps/apt-test.txt)' : false;

const EMPTY = Buffer.from('{}');
const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MT_INDEX = 'application/vnd.oci.image.index.v1+json';
const COSIGN_SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

let store: string;
let digest: string;
let indexSize: number;
let keys: { priv: string; pub: string };
let other: { priv: string; pub: string };
let reg: RegistryInstance;

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const desc = (mediaType: string, b: Buffer, extra: Record<string, unknown> = {}) => ({ mediaType, digest: sha(b), size: b.length, ...extra });

before(async () => {
  if (skip) return;
  ensureVmlinux();
  store = tmpDir();
  digest = (await buildImage(path.join(TESTDATA, 'mini'), { tag: 'mini:v1', store })).digest;
  indexSize = readFileSync(path.join(store, 'blobs', 'sha256', digest.slice(7))).length;
  const kd = tmpDir();
  keys = makeKeyPair(kd, 'signer');
  other = makeKeyPair(kd, 'other');
  reg = await startRegistry({});
});

after(async () => {
  await reg?.stop();
  cleanupTmp();
});

/** cosign `--registry-referrers-mode=oci-1-1`: an artifact manifest of simple-signing layers, subject = the image. */
function cosignReferrer(repoRef: string, signedDigest: string, keyFile: string, subject = signedDigest) {
  const payload = Buffer.from(JSON.stringify({
    critical: { identity: { 'docker-reference': repoRef }, image: { 'docker-manifest-digest': signedDigest }, type: 'cosign container image signature' },
    optional: null,
  }));
  const signature = sign('sha256', payload, createPrivateKey(readFileSync(keyFile))).toString('base64');
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT_MANIFEST,
    artifactType: COSIGN_SIG,
    config: desc('application/vnd.oci.empty.v1+json', EMPTY),
    layers: [desc('application/vnd.dev.cosign.simplesigning.v1+json', payload, { annotations: { 'dev.cosignproject.cosign/signature': signature } })],
    subject: { mediaType: MT_INDEX, digest: subject, size: indexSize },
  }));
  return { manifest, blobs: [EMPTY, payload], artifactType: COSIGN_SIG };
}

/** cosign `--new-bundle-format`: a sigstore bundle v0.3 holding a DSSE envelope over an in-toto statement. */
function bundleReferrer(signedDigest: string, keyFile: string) {
  const statement = Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'mini', digest: { sha256: signedDigest.slice(7) } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  }));
  const payloadType = 'application/vnd.in-toto+json';
  // DSSE pre-authentication encoding, written out from the DSSE spec
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${statement.length} `), statement]);
  const sig = sign('sha256', pae, createPrivateKey(readFileSync(keyFile))).toString('base64');
  const bundle = Buffer.from(JSON.stringify({
    mediaType: BUNDLE,
    verificationMaterial: { publicKey: { hint: 'test-key' }, tlogEntries: [] },
    dsseEnvelope: { payload: statement.toString('base64'), payloadType, signatures: [{ sig, keyid: '' }] },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT_MANIFEST,
    artifactType: BUNDLE,
    config: desc('application/vnd.oci.empty.v1+json', EMPTY),
    layers: [desc(BUNDLE, bundle)],
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
    subject: { mediaType: MT_INDEX, digest: signedDigest, size: indexSize },
  }));
  // as cosign's index listed it: the artifactType in the listing is not the bundle's
  return { manifest, blobs: [EMPTY, bundle], artifactType: 'application/vnd.oci.empty.v1+json' };
}

/** Push the referrers' blobs and manifests, then the referrers tag schema index `sha256-<hex>` listing them. */
async function attach(ref: string, referrers: { manifest: Buffer; blobs: Buffer[]; artifactType: string }[]): Promise<void> {
  const parsed = parseReference(ref);
  const client = await registryClient(parsed.domain, { insecureRegistries: [reg.host] });
  for (const r of referrers) {
    for (const b of r.blobs) if (!(await client.hasBlob(parsed.path, sha(b)))) await client.putBlob(parsed.path, sha(b), b);
    await client.putManifest(parsed.path, sha(r.manifest), MT_MANIFEST, r.manifest);
  }
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT_INDEX,
    manifests: referrers.map((r) => desc(MT_MANIFEST, r.manifest, { artifactType: r.artifactType })),
  }));
  await client.putManifest(parsed.path, digest.replace(':', '-'), MT_INDEX, index);
}

async function pushUnsigned(name: string): Promise<string> {
  const ref = `${reg.host}/gadgets/${name}:v1`;
  await tagImage('mini:v1', ref, { store });
  const r = await runCli(['image', 'push', ref, '--store', store, '--insecure-registries', reg.host]);
  assert.equal(r.code, 0, r.stderr);
  return ref;
}

const pullOpts = (s: string, pub: string) => ({ store: s, insecureRegistries: [reg.host], publicKeys: [pub] });

test('an OCI 1.1 cosign referrer verifies with the right key only', { skip }, async () => {
  const ref = await pushUnsigned('oci11');
  await attach(ref, [cosignReferrer(`${reg.host}/gadgets/oci11`, digest, keys.priv)]);
  const img = await getGadgetImage(ref, pullOpts(tmpDir(), keys.pub));
  assert.equal(img.digest, digest);
  await assert.rejects(getGadgetImage(ref, pullOpts(tmpDir(), other.pub)),
    (e: Error) => e instanceof OciError && /signature verification failed: no given public key matches the signature/.test(e.message) && !e.message.includes('\n'));
});

test('a sigstore bundle referrer verifies; its statement must name this digest', { skip }, async () => {
  const ref = await pushUnsigned('bundle');
  await attach(ref, [bundleReferrer(digest, keys.priv)]);
  const s = tmpDir();
  const img = await getGadgetImage(ref, pullOpts(s, keys.pub));
  assert.equal(img.digest, digest);
  let r = await runCli(['image', 'verify', ref, '--public-keys', other.pub, '--store', s]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /signature verification failed: no given public key matches the signature/);

  // a correctly signed bundle whose statement names another image
  const ref2 = await pushUnsigned('bundle-other');
  await attach(ref2, [bundleReferrer(`sha256:${'1'.repeat(64)}`, keys.priv)].map((b) => {
    // keep the subject pointing at our image so only the statement is wrong
    const m = JSON.parse(b.manifest.toString());
    m.subject.digest = digest;
    return { ...b, manifest: Buffer.from(JSON.stringify(m)) };
  }));
  r = await runCli(['image', 'pull', ref2, '--store', tmpDir(), '--insecure-registries', reg.host]);
  assert.equal(r.code, 0, r.stderr);
  const s2 = tmpDir();
  await assert.rejects(getGadgetImage(ref2, pullOpts(s2, keys.pub)),
    (e: Error) => e instanceof OciError && /signature was made for a different digest/.test(e.message));
});

test('a referrer attached to another image is refused; a valid one beside it still verifies', { skip }, async () => {
  const ref = await pushUnsigned('mixed');
  const stray = cosignReferrer(`${reg.host}/gadgets/mixed`, digest, keys.priv, `sha256:${'2'.repeat(64)}`);
  await attach(ref, [stray]);
  const s = tmpDir();
  await assert.rejects(getGadgetImage(ref, pullOpts(s, keys.pub)),
    (e: Error) => e instanceof OciError && /is attached to sha256:2{64}, not to sha256:/.test(e.message));
  await attach(ref, [stray, bundleReferrer(digest, keys.priv)]);
  const img = await getGadgetImage(ref, pullOpts(tmpDir(), keys.pub));
  assert.equal(img.digest, digest);
});

test('referrers travel with push and export/import, and go with the image on remove', { skip }, async () => {
  const ref = await pushUnsigned('carry');
  await attach(ref, [bundleReferrer(digest, keys.priv)]);
  const s = tmpDir();
  let r = await runCli(['image', 'pull', ref, '--store', s, '--insecure-registries', reg.host]);
  assert.equal(r.code, 0, r.stderr);
  // not listed as an image
  r = await runCli(['image', 'list', '--store', s]);
  assert.doesNotMatch(r.stdout, /sha256-/);
  // export → import into a clean store: still verifies offline
  const archive = path.join(tmpDir(), 'carry.tar');
  r = await runCli(['image', 'export', ref, archive, '--store', s]);
  assert.equal(r.code, 0, r.stderr);
  const s2 = tmpDir();
  r = await runCli(['image', 'import', archive, '--store', s2]);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['image', 'verify', ref, '--public-keys', keys.pub, '--store', s2]);
  assert.equal(r.code, 0, r.stderr);
  // push carries the referrers: empty the registry's referrers listing, push from the imported store, pull again
  const parsed = parseReference(ref);
  const client = await registryClient(parsed.domain, { insecureRegistries: [reg.host] });
  await client.putManifest(parsed.path, digest.replace(':', '-'), MT_INDEX, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT_INDEX, manifests: [] })));
  await assert.rejects(getGadgetImage(ref, pullOpts(tmpDir(), keys.pub)), /is not signed/);
  r = await runCli(['image', 'push', ref, '--store', s2, '--insecure-registries', reg.host]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Copied signing referrers sha256-[0-9a-f]{64}/);
  const img = await getGadgetImage(ref, pullOpts(tmpDir(), keys.pub));
  assert.equal(img.digest, digest);
  // remove: the referrers tag goes with the image
  r = await runCli(['image', 'rm', ref, '--store', s2]);
  assert.equal(r.code, 0, r.stderr);
  const idx = JSON.parse(readFileSync(path.join(s2, 'index.json'), 'utf8'));
  assert.deepEqual(idx.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name']), []);
  assert.ok(existsSync(path.join(s2, 'blobs', 'sha256')));
});
