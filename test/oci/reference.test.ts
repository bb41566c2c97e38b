// Reference normalisation (ig-spec §1.5), --allowed-gadgets matching, tar safety, auth-challenge parsing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeReference, displayRepository, isGadgetAllowed, OciError, defaultStorePath } from '../../src/oci/index.js';
import { readTar, writeTar, safeEntryName } from '../../src/oci/tar.js';
import { parseChallenge } from '../../src/oci/registry.js';
import { getCredentials, saveCredentials, removeCredentials } from '../../src/oci/auth.js';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

test('normalizeReference: the ig-spec table', () => {
  const table: [string, string][] = [
    ['trace_open', 'ghcr.io/inspektor-gadget/gadget/trace_open:latest'],
    ['trace_open:v0.48.0', 'ghcr.io/inspektor-gadget/gadget/trace_open:v0.48.0'],
    ['myorg/mygadget', 'ghcr.io/myorg/mygadget:latest'],
    ['localhost:5000/g', 'localhost:5000/g:latest'],
    ['docker.io/x/y', 'docker.io/x/y:latest'],
  ];
  for (const [input, want] of table) assert.equal(normalizeReference(input), want, input);
});

test('normalizeReference: more cases', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  const table: [string, string][] = [
    ['ghcr.io/x', 'ghcr.io/inspektor-gadget/gadget/x:latest'],
    ['ghcr.io/inspektor-gadget/gadget/trace_exec:main', 'ghcr.io/inspektor-gadget/gadget/trace_exec:main'],
    ['localhost/g:1', 'localhost/g:1'],
    ['127.0.0.1:5000/a/b/c:v1', '127.0.0.1:5000/a/b/c:v1'],
    [`trace_open@${d}`, `ghcr.io/inspektor-gadget/gadget/trace_open@${d}`],
    [`trace_open:v1@${d}`, `ghcr.io/inspektor-gadget/gadget/trace_open:v1@${d}`],
    ['docker.io/ubuntu', 'docker.io/library/ubuntu:latest'],
    ['index.docker.io/x/y:1', 'docker.io/x/y:1'],
    ['Registry/foo', 'Registry/foo:latest'], // an uppercase first component is a domain
    ['my.registry.io/team/gadget:1.2', 'my.registry.io/team/gadget:1.2'],
  ];
  for (const [input, want] of table) assert.equal(normalizeReference(input), want, input);
});

test('normalizeReference: invalid references are one-line OciErrors', () => {
  for (const bad of ['', 'UPPER', 'a/B', 'x:', 'x@sha256:1', 'a//b', 'x:bad tag']) {
    assert.throws(() => normalizeReference(bad), (e: unknown) => e instanceof OciError && !e.message.includes('\n') && /invalid image reference/.test(e.message), bad);
  }
});

test('displayRepository strips the official prefix', () => {
  assert.equal(displayRepository('ghcr.io/inspektor-gadget/gadget/trace_open'), 'trace_open');
  assert.equal(displayRepository('ghcr.io/myorg/g'), 'ghcr.io/myorg/g');
});

test('defaultStorePath', () => {
  if (process.geteuid?.() === 0) assert.equal(defaultStorePath(), '/var/lib/ig/oci-store');
  else assert.match(defaultStorePath(), /\/\.ig\/oci-store$/);
});

test('isGadgetAllowed: exact names, digests, trailing * prefixes', () => {
  const name = 'ghcr.io/inspektor-gadget/gadget/trace_open:v1';
  const repo = 'ghcr.io/inspektor-gadget/gadget/trace_open';
  const digest = 'sha256:' + 'b'.repeat(64);
  assert.equal(isGadgetAllowed(name, repo, digest, undefined), true);
  assert.equal(isGadgetAllowed(name, repo, digest, []), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['trace_open:v1']), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['trace_open']), false); // means :latest
  assert.equal(isGadgetAllowed(name, repo, digest, [`trace_open@${digest}`]), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['ghcr.io/inspektor-gadget/gadget/*']), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['ghcr.io/other/*', 'trace_exec:v1']), false);
  assert.equal(isGadgetAllowed(name, repo, digest, ['ghcr.io/inspektor-gadget/gadget/trace_open:*']), true);
});

test('tar: writer output parses back; unsafe names are refused', () => {
  const t = writeTar([
    { name: 'oci-layout', data: Buffer.from('{}'), mtime: 1700000000 },
    { name: 'blobs/sha256/' + 'c'.repeat(64), data: Buffer.alloc(1000, 7), mtime: 1700000000 },
  ]);
  assert.equal(t.length % 512, 0);
  const back = readTar(t);
  assert.deepEqual(back.map((e) => [e.name, e.data.length]), [['oci-layout', 2], ['blobs/sha256/' + 'c'.repeat(64), 1000]]);
  // deterministic
  assert.ok(t.equals(writeTar([
    { name: 'oci-layout', data: Buffer.from('{}'), mtime: 1700000000 },
    { name: 'blobs/sha256/' + 'c'.repeat(64), data: Buffer.alloc(1000, 7), mtime: 1700000000 },
  ])));
  assert.equal(safeEntryName('./index.json'), 'index.json');
  assert.throws(() => safeEntryName('../x'), /escapes the layout/);
  assert.throws(() => safeEntryName('blobs/../../x'), /escapes the layout/);
  assert.throws(() => safeEntryName('/etc/passwd'), /absolute path/);
});

test('parseChallenge', () => {
  const c = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
  assert.deepEqual(c, { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } });
  assert.deepEqual(parseChallenge('Basic realm="igtest"'), { scheme: 'basic', params: { realm: 'igtest' } });
});

test('credentials: config.json lookups, docker.io as index.docker.io, REGISTRY_AUTH_FILE, docker fallback', async () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'ig-auth-test-'));
  try {
    const f = path.join(d, 'auth.json');
    const enc = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');
    writeFileSync(f, JSON.stringify({ auths: { 'index.docker.io': { auth: enc('hub', 'pw1') }, 'https://r.example:5000': { auth: enc('r', 'pw:2') } } }));
    assert.deepEqual(await getCredentials('docker.io', f), { username: 'hub', password: 'pw1' });
    assert.deepEqual(await getCredentials('r.example:5000', f), { username: 'r', password: 'pw:2' });
    assert.equal(await getCredentials('other.example', f), undefined);
    await saveCredentials('new.example', { username: 'n', password: 'p' }, f);
    assert.deepEqual(await getCredentials('new.example', f), { username: 'n', password: 'p' });
    assert.equal(await removeCredentials('new.example', f), true);
    assert.equal(await getCredentials('new.example', f), undefined);
    const old = { a: process.env.REGISTRY_AUTH_FILE, d: process.env.DOCKER_CONFIG };
    try {
      process.env.REGISTRY_AUTH_FILE = f;
      assert.deepEqual(await getCredentials('docker.io'), { username: 'hub', password: 'pw1' });
      delete process.env.REGISTRY_AUTH_FILE;
      // the default file falls back to docker's config.json when it does not exist
      const dc = path.join(d, 'docker');
      process.env.DOCKER_CONFIG = dc;
      await saveCredentials('fallback.example', { username: 'fb', password: 'x' }, path.join(dc, 'config.json'));
      const { defaultAuthFile } = await import('../../src/oci/auth.js');
      if (!existsSync(defaultAuthFile())) assert.deepEqual(await getCredentials('fallback.example'), { username: 'fb', password: 'x' });
    } finally {
      if (old.a === undefined) delete process.env.REGISTRY_AUTH_FILE;
      else process.env.REGISTRY_AUTH_FILE = old.a;
      if (old.d === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = old.d;
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
