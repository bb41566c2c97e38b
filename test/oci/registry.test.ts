// Against real registries (Debian docker-registry 2.8) started here: TLS + basic auth, plain HTTP, and bearer
// tokens from a fake token server; skopeo as the independent client; signatures and --allowed-gadgets.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildImage, getGadgetImage, pullImage, signImage, tagImage, OciError } from '../../src/oci/index.js';
import { startRegistry, haveRegistry, type RegistryInstance } from '../harness/registry.js';
import { cleanupTmp, ensureVmlinux, haveTool, makeKeyPair, oneErrorLine, runCli, tmpDir, TESTDATA, ROOT } from './helpers.js';

const pexec = promisify(execFile);
const skip = !haveRegistry() || !haveTool('htpasswd') || !haveTool('openssl') ? 'docker-registry/htpasswd/openssl not installed (scripts/deps/apt.txt)' : false;

let store: string;
let digest: string;
let keys: { priv: string; pub: string };
let otherKeys: { priv: string; pub: string };
const registries: RegistryInstance[] = [];
const USER = { username: 'iguser', password: 'igpass' };

async function registry(opts: Parameters<typeof startRegistry>[0]): Promise<RegistryInstance> {
  const r = await startRegistry(opts);
  registries.push(r);
  return r;
}

before(async () => {
  if (skip) return;
  ensureVmlinux();
  store = tmpDir();
  digest = (await buildImage(path.join(TESTDATA, 'mini'), { tag: 'mini:v1', store })).digest;
  const kd = tmpDir();
  keys = makeKeyPair(kd, 'signer');
  otherKeys = makeKeyPair(kd, 'other');
});

after(async () => {
  for (const r of registries.splice(0)) await r.stop();
  cleanupTmp();
});

function blobOf(s: string, d: string): Buffer {
  return readFileSync(path.join(s, 'blobs', 'sha256', d.slice(7)));
}

test('TLS + basic auth: login, sign, push, remove locally, pull, verify, run-ready image', { skip }, async () => {
  const reg = await registry({ tls: true, basicAuth: USER });
  const auth = path.join(tmpDir(), 'auth.json');
  const common = ['--authfile', auth, '--cert-dir', reg.certDir!];

  // wrong password, then the right one
  let r = await runCli(['login', reg.host, '-u', USER.username, '-p', 'wrong', ...common]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /rejected the credentials/);
  r = await runCli(['login', reg.host, '-u', USER.username, '--password-stdin', ...common], {}, `${USER.password}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(readFileSync(auth, 'utf8')).auths[reg.host].auth);

  const ref = `${reg.host}/gadgets/mini:v1`;
  await tagImage('mini:v1', ref, { store });
  r = await runCli(['image', 'sign', ref, '--key', keys.priv, '--store', store]);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['image', 'push', ref, '--store', store, ...common]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Successfully pushed ${ref.replace(/[.]/g, '\\.')}@${digest}`));
  // piped: one line per step on stderr
  assert.match(r.stderr, /^Pushing .*\nCopying blob /);
  assert.match(r.stderr, /Copied signature sha256-[0-9a-f]{64}\.sig/);

  // remove locally (other tags keep the blobs), then pull through getGadgetImage
  r = await runCli(['image', 'rm', ref, '--store', store]);
  assert.equal(r.code, 0, r.stderr);
  const s2 = tmpDir();
  const img = await getGadgetImage(ref, { store: s2, authFile: auth, certDir: reg.certDir, publicKeys: [keys.pub] });
  assert.equal(img.origin, 'pulled');
  assert.equal(img.digest, digest);
  const local = await getGadgetImage('mini:v1', { store });
  assert.ok(img.ebpf!.equals(local.ebpf!));
  assert.ok(img.metadata!.equals(local.metadata!));

  // the pulled signature verifies with the right key only
  r = await runCli(['image', 'verify', ref, '--public-keys', keys.pub, '--store', s2]);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['image', 'verify', ref, '--public-keys', otherKeys.pub, '--store', s2]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /signature verification failed: no given public key matches the signature/);

  // wrongly signed: a clean store with the wrong key refuses it
  await assert.rejects(
    getGadgetImage(ref, { store: tmpDir(), authFile: auth, certDir: reg.certDir, publicKeys: [otherKeys.pub] }),
    (e: Error) => e instanceof OciError && /signature verification failed/.test(e.message) && !e.message.includes('\n'),
  );

  // unsigned: the same digest under another name has no signature
  const unsigned = `${reg.host}/gadgets/unsigned:v1`;
  await tagImage('mini:v1', unsigned, { store });
  r = await runCli(['image', 'push', unsigned, '--store', store, ...common]);
  assert.equal(r.code, 0, r.stderr);
  await assert.rejects(
    getGadgetImage(unsigned, { store: tmpDir(), authFile: auth, certDir: reg.certDir, publicKeys: [keys.pub] }),
    /is not signed \(no sha256-[0-9a-f]{64}\.sig signature and no signing referrer found\); refusing to use it/,
  );
  // ... unless verification is switched off
  const unv = await getGadgetImage(unsigned, { store: tmpDir(), authFile: auth, certDir: reg.certDir, verifyImage: false });
  assert.equal(unv.digest, digest);

  // --allowed-gadgets is checked after resolution
  await assert.rejects(
    getGadgetImage(ref, { store: s2, publicKeys: [keys.pub], allowedGadgets: [`${reg.host}/other/*`] }),
    /is not in the allowed gadgets list/,
  );
  const allowed = await getGadgetImage(ref, { store: s2, publicKeys: [keys.pub], allowedGadgets: [`${reg.host}/gadgets/mini@${digest}`] });
  assert.equal(allowed.digest, digest);

  // without credentials the registry refuses, in one line
  const s3 = tmpDir();
  r = await runCli(['image', 'pull', ref, '--store', s3, '--authfile', path.join(tmpDir(), 'none.json'), '--cert-dir', reg.certDir!]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /registry 127\.0\.0\.1:\d+ requires credentials; run "ig login/);
  // without the CA the TLS error says what to do
  r = await runCli(['image', 'pull', ref, '--store', s3, '--authfile', auth]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /TLS certificate not trusted .*--cert-dir/);

  r = await runCli(['logout', reg.host, '--authfile', auth]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(auth, 'utf8')).auths[reg.host], undefined);
});

test('skopeo inspects and copies what ig pushed; ig pulls what skopeo copied', { skip: skip || (!haveTool('skopeo') && 'skopeo not installed') }, async () => {
  const reg = await registry({ tls: true, basicAuth: USER });
  const auth = path.join(tmpDir(), 'auth.json');
  writeFileSync(auth, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${USER.username}:${USER.password}`).toString('base64') } } }));
  const ref = `${reg.host}/gadgets/mini:sk`;
  await tagImage('mini:v1', ref, { store });
  let r = await runCli(['image', 'push', ref, '--store', store, '--authfile', auth, '--cert-dir', reg.certDir!]);
  assert.equal(r.code, 0, r.stderr);

  const creds = `${USER.username}:${USER.password}`;
  const raw = await pexec('skopeo', ['inspect', '--raw', '--cert-dir', reg.certDir!, '--creds', creds, `docker://${ref}`], { encoding: 'buffer' });
  assert.ok((raw.stdout as Buffer).equals(blobOf(store, digest)), 'skopeo sees the very index ig built');
  const index = JSON.parse(raw.stdout.toString());
  const m = await pexec('skopeo', ['inspect', '--raw', '--cert-dir', reg.certDir!, '--creds', creds, `docker://${reg.host}/gadgets/mini@${index.manifests[0].digest}`]);
  assert.equal(JSON.parse(m.stdout).artifactType, 'application/vnd.gadget.v1+binary');

  const copied = `${reg.host}/copied/mini:v2`;
  await pexec('skopeo', [
    'copy', '--all', '--preserve-digests', '--src-cert-dir', reg.certDir!, '--dest-cert-dir', reg.certDir!,
    '--src-creds', creds, '--dest-creds', creds, `docker://${ref}`, `docker://${copied}`,
  ]);
  const s2 = tmpDir();
  r = await runCli(['image', 'pull', copied, '--store', s2, '--authfile', auth, '--cert-dir', reg.certDir!]);
  assert.equal(r.code, 0, r.stderr);
  const img = await getGadgetImage(copied, { store: s2, verifyImage: false, pull: 'never' });
  assert.equal(img.digest, digest);
  assert.ok(img.ebpf!.equals((await getGadgetImage('mini:v1', { store })).ebpf!));

  // skopeo can also lay the image out as an OCI directory, and it keeps our media types
  const out = path.join(tmpDir(), 'layout');
  await pexec('skopeo', ['copy', '--all', '--src-cert-dir', reg.certDir!, '--src-creds', creds, `docker://${ref}`, `oci:${out}:v1`]);
  const layoutIdx = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8'));
  assert.equal(layoutIdx.manifests[0].digest, digest);
});

test('plain HTTP with --insecure-registries; a tampered registry blob is refused', { skip }, async () => {
  const reg = await registry({});
  const ref = `${reg.host}/gadgets/mini:plain`;
  await tagImage('mini:v1', ref, { store });
  // without --insecure-registries ig insists on TLS
  let r = await runCli(['image', 'push', ref, '--store', store]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /TLS handshake failed .*--insecure-registries/);
  r = await runCli(['image', 'push', ref, '--store', store, '--insecure-registries', reg.host]);
  assert.equal(r.code, 0, r.stderr);
  const s2 = tmpDir();
  const p = await pullImage(ref, { store: s2, insecureRegistries: [reg.host] });
  assert.equal(p.digest, digest);

  // flip a byte of the eBPF layer inside the registry's storage
  const local = await getGadgetImage('mini:v1', { store });
  const layerDigest = JSON.parse(blobOf(store, JSON.parse(blobOf(store, digest).toString()).manifests[0].digest).toString()).layers[0].digest as string;
  const hex = layerDigest.slice(7);
  const data = path.join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  assert.ok(existsSync(data));
  const b = readFileSync(data);
  b[100] ^= 0xff;
  writeFileSync(data, b);
  assert.equal(local.ebpf!.length, b.length);
  const s3 = tmpDir();
  r = await runCli(['image', 'pull', ref, '--store', s3, '--insecure-registries', reg.host]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), new RegExp(`blob ${layerDigest} from .* does not match its digest: refusing tampered content`));
  // nothing was committed
  assert.equal(JSON.parse(readFileSync(path.join(s3, 'index.json'), 'utf8')).manifests.length, 0);
  assert.deepEqual(readdirSync(path.join(s3, 'blobs', 'sha256')), []);
});

test('bearer token auth (registry auth.token + fake token server)', { skip }, async () => {
  const reg = await registry({ tls: true, tokenAuth: USER });
  const auth = path.join(tmpDir(), 'auth.json');
  const common = ['--authfile', auth, '--cert-dir', reg.certDir!];
  let r = await runCli(['login', reg.host, '-u', USER.username, '-p', USER.password, ...common]);
  assert.equal(r.code, 0, r.stderr);
  const ref = `${reg.host}/tok/mini:v1`;
  await tagImage('mini:v1', ref, { store });
  r = await runCli(['image', 'push', ref, '--store', store, ...common]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(reg.tokenRequests!.some((q) => q.user === USER.username && q.scope.some((s) => s === 'repository:tok/mini:push,pull' || s === 'repository:tok/mini:pull,push')));
  const s2 = tmpDir();
  r = await runCli(['image', 'pull', ref, '--store', s2, ...common]);
  assert.equal(r.code, 0, r.stderr);
  const img = await getGadgetImage(ref, { store: s2, verifyImage: false, pull: 'never' });
  assert.equal(img.digest, digest);
  // anonymous: the token service says no
  r = await runCli(['image', 'pull', ref, '--store', tmpDir(), '--authfile', path.join(tmpDir(), 'none.json'), '--cert-dir', reg.certDir!]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /token service requires credentials/);
});

test('an official gadget round-trips: build → push → remove → pull', { skip: skip || (!existsSync(path.join(ROOT, 'gadgets', 'trace_open', 'program.bpf.c')) && 'gadgets/trace_open not present yet') }, async () => {
  const reg = await registry({});
  const s = tmpDir();
  const ref = `${reg.host}/gadget/trace_open:test`;
  const b = await buildImage(path.join(ROOT, 'gadgets', 'trace_open'), { tag: ref, store: s });
  const kd = tmpDir();
  const k = makeKeyPair(kd, 'k');
  await signImage(ref, k.priv, { store: s });
  let r = await runCli(['image', 'push', ref, '--store', s, '--insecure-registries', reg.host]);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['image', 'rm', ref, '--store', s]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(path.join(s, 'blobs', 'sha256')), []);
  const img = await getGadgetImage(ref, { store: s, insecureRegistries: [reg.host], publicKeys: [k.pub] });
  assert.equal(img.digest, b.digest);
  assert.ok(img.ebpf && img.metadata);
});
