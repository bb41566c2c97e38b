// Registries never trusted: crafted manifests from a FAKE malicious registry (test/oci/fake-malicious-registry.ts)
// must be refused with one clear line, before a digest reaches a path or URL, without unbounded memory, and without
// leaving files in the store (also when the pull is interrupted).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import {
  MT_EBPF, MT_INDEX, MT_MANIFEST, digestOfPattern, serveBlob, serveGadget, serveManifest, startFakeRegistry, streamPattern,
  type FakeRegistry,
} from './fake-malicious-registry.js';
import { CLI, cleanupTmp, oneErrorLine, runCli, tmpDir } from './helpers.js';
import { haveRegistry, startRegistry } from '../harness/registry.js';

const fakes: FakeRegistry[] = [];
after(async () => {
  for (const f of fakes.splice(0)) await f.stop();
  cleanupTmp();
});

async function fake(): Promise<FakeRegistry> {
  const f = await startFakeRegistry();
  fakes.push(f);
  return f;
}

function pull(f: FakeRegistry, ref: string, store: string) {
  return runCli(['image', 'pull', `${f.host}/${ref}`, '--store', store, '--insecure-registries', f.host]);
}

/** Nothing of a refused pull stays: no image in index.json, no blob, no ingest file. */
function assertNothingStored(store: string, what: string): void {
  if (!existsSync(store)) return;
  const idx = path.join(store, 'index.json');
  if (existsSync(idx)) assert.equal(JSON.parse(readFileSync(idx, 'utf8')).manifests.length, 0, `${what}: an image was stored`);
  for (const d of ['blobs/sha256', 'ingest']) {
    const p = path.join(store, d);
    if (existsSync(p)) assert.deepEqual(readdirSync(p), [], `${what}: files left in ${d}`);
  }
}

/** Run the CLI under GNU time: exit code, stderr, and the peak resident memory in MB. */
function pullMeasured(args: string[]): Promise<{ code: number; stderr: string; rssMb: number }> {
  return new Promise((resolve) => {
    const c = spawn('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => {
      const kb = Number(/maxrss=(\d+)/.exec(err)?.[1] ?? NaN);
      resolve({ code: code ?? 1, stderr: err.replace(/.*maxrss=\d+\s*$/s, (m) => m.replace(/maxrss=\d+\s*$/, '')), rssMb: kb / 1024 });
    });
  });
}

test('a digest that is not sha256:<64 hex> is refused before it reaches a URL or a path', async () => {
  const f = await fake();
  const repo = 'evil/dotdot';
  for (const [tag, bad] of [['layer', 'sha256:../../x'], ['upper', 'SHA256:' + 'a'.repeat(64)], ['short', 'sha256:abc'], ['other', 'md5:' + 'a'.repeat(32)]] as const) {
    serveGadget(f, repo, tag, { mediaType: MT_EBPF, digest: bad, size: 1 });
    const store = path.join(tmpDir(), 'store');
    const r = await pull(f, `${repo}:${tag}`, store);
    assert.equal(r.code, 1, `${tag}: pull of a bad layer digest succeeded`);
    assert.match(oneErrorLine(r), /layers\[0\]: digest ".*" is not sha256:<64 hex digits>/, tag);
    assertNothingStored(store, tag);
  }
  // a bad child digest in the index itself
  serveManifest(f, repo, { schemaVersion: 2, manifests: [{ mediaType: MT_MANIFEST, digest: 'sha256:../../../v2/other/manifests/latest', size: 10 }] }, MT_INDEX, 'child');
  const store = path.join(tmpDir(), 'store');
  const r = await pull(f, `${repo}:child`, store);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /manifests\[0\]: digest .* is not sha256:<64 hex digits>/);
  assert.ok(!f.requests.some((p) => p.includes('..') || p.includes('/other/')), `a crafted digest reached a URL: ${f.requests.join(' ')}`);
  assertNothingStored(store, 'child');
});

test('descriptor sizes, list types and index nesting are checked', async () => {
  const f = await fake();
  const repo = 'evil/shapes';
  const layer = serveBlob(f, repo, Buffer.from('abc'), MT_EBPF);
  serveGadget(f, repo, 'negative', { ...layer, size: -1 });
  serveGadget(f, repo, 'string', { ...layer, size: '3' as unknown as number });
  serveGadget(f, repo, 'huge', { ...layer, size: 2 ** 40 });
  serveManifest(f, repo, { schemaVersion: 2, manifests: 'hello' }, MT_INDEX, 'notalist');
  // ten indexes, each the only child of the one above
  let child = serveManifest(f, repo, { schemaVersion: 2, mediaType: MT_MANIFEST, config: layer, layers: [] }, MT_MANIFEST);
  for (let i = 0; i < 10; i++) child = serveManifest(f, repo, { schemaVersion: 2, manifests: [child] }, MT_INDEX, i === 9 ? 'deep' : undefined);
  const cases: [string, RegExp][] = [
    ['negative', /layers\[0\]: descriptor sha256:\w+ has invalid size number -1/],
    ['string', /layers\[0\]: descriptor sha256:\w+ has invalid size string "3"/],
    ['huge', /claims 1099511627776 bytes, more than the 1024 MiB limit/],
    ['notalist', /"manifests" is string "hello", not a list/],
    ['deep', /indexes nested more than 4 deep/],
  ];
  for (const [tag, re] of cases) {
    const store = path.join(tmpDir(), 'store');
    const r = await pull(f, `${repo}:${tag}`, store);
    assert.equal(r.code, 1, `${tag}: pull succeeded`);
    assert.match(oneErrorLine(r), re, tag);
    assertNothingStored(store, tag);
  }
});

test('manifests are capped at 4 MiB: an endless one is cut off, a declared 1 GiB one is never read', async () => {
  const f = await fake();
  f.routes.set('/v2/evil/big/manifests/chunked', streamPattern(1 << 30, { 'content-type': MT_INDEX }));
  f.routes.set('/v2/evil/big/manifests/declared', streamPattern(1 << 30, { 'content-type': MT_INDEX, 'content-length': String(1 << 30) }));
  for (const [tag, re] of [['chunked', /is more than the 4 MiB limit/], ['declared', /is 1073741824 bytes, more than the 4 MiB limit/]] as const) {
    const store = path.join(tmpDir(), 'store');
    const r = await pullMeasured(['image', 'pull', `${f.host}/evil/big:${tag}`, '--store', store, '--insecure-registries', f.host]);
    assert.equal(r.code, 1, tag);
    assert.match(r.stderr, re, tag);
    assert.ok(r.rssMb < 150, `${tag}: ${r.rssMb.toFixed(0)} MB resident while refusing a 1 GiB manifest`);
    assertNothingStored(store, tag);
  }
});

test('blob sizes are checked against the descriptor while streaming', async () => {
  const f = await fake();
  const repo = 'evil/liar';
  const small = digestOfPattern(1000);
  // claims 1000 bytes, streams 64 MiB without a Content-Length
  f.routes.set(`/v2/${repo}/blobs/${small}`, streamPattern(64 << 20));
  serveGadget(f, repo, 'longer', { mediaType: MT_EBPF, digest: small, size: 1000 });
  const store = path.join(tmpDir(), 'store');
  let r = await pull(f, `${repo}:longer`, store);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /blob sha256:\w+ from .* is larger than the 1000 bytes its descriptor states/);
  assertNothingStored(store, 'longer');
  // a Content-Length that disagrees with the descriptor is refused before reading
  const other = digestOfPattern(2000);
  f.routes.set(`/v2/${repo}/blobs/${other}`, streamPattern(2000, { 'content-length': String(5000) }));
  serveGadget(f, repo, 'declared', { mediaType: MT_EBPF, digest: other, size: 2000 });
  r = await pull(f, `${repo}:declared`, store);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /is 5000 bytes, its descriptor says 2000: refusing it/);
  assertNothingStored(store, 'declared');
});

test('a 256 MiB layer is streamed: pull to the store, export and push to a real registry, never held in memory', async () => {
  const f = await fake();
  const repo = 'big/layer';
  const size = 256 << 20;
  const digest = digestOfPattern(size);
  f.routes.set(`/v2/${repo}/blobs/${digest}`, streamPattern(size, { 'content-length': String(size) }));
  serveGadget(f, repo, 'v1', { mediaType: MT_EBPF, digest, size });
  const store = path.join(tmpDir(), 'store');
  const r = await pullMeasured(['image', 'pull', `${f.host}/${repo}:v1`, '--store', store, '--insecure-registries', f.host]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.rssMb < 200, `pulling a 256 MiB layer took ${r.rssMb.toFixed(0)} MB resident`);
  const blob = path.join(store, 'blobs', 'sha256', digest.slice(7));
  assert.equal(existsSync(blob) && statSync(blob).size, size);
  assert.deepEqual(readdirSync(path.join(store, 'ingest')), []);
  // export and push stream the layer as well
  const archive = path.join(tmpDir(), 'big.tar');
  const ex = await pullMeasured(['image', 'export', `${f.host}/${repo}:v1`, archive, '--store', store]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.ok(ex.rssMb < 200, `exporting a 256 MiB layer took ${ex.rssMb.toFixed(0)} MB resident`);
  assert.ok(statSync(archive).size > size);
  assert.ok(haveRegistry(), 'docker-registry is installed by setup');
  const reg = await startRegistry({});
  try {
    const ref = `${reg.host}/big/layer:v1`;
    assert.equal((await runCli(['image', 'tag', `${f.host}/${repo}:v1`, ref, '--store', store])).code, 0);
    const push = await pullMeasured(['image', 'push', ref, '--store', store, '--insecure-registries', reg.host]);
    assert.equal(push.code, 0, push.stderr);
    assert.ok(push.rssMb < 200, `pushing a 256 MiB layer took ${push.rssMb.toFixed(0)} MB resident`);
  } finally {
    await reg.stop();
  }
});

/** Start a pull of a slow 64 MiB layer and wait until its ingest file exists. */
async function startSlowPull(f: FakeRegistry, store: string, tag: string) {
  const repo = 'slow/layer';
  const size = 64 << 20;
  const digest = digestOfPattern(size);
  f.routes.set(`/v2/${repo}/blobs/${digest}`, streamPattern(size, { 'content-length': String(size) }, 20));
  serveGadget(f, repo, tag, { mediaType: MT_EBPF, digest, size });
  const child = spawn(process.execPath, [CLI, 'image', 'pull', `${f.host}/${repo}:${tag}`, '--store', store, '--insecure-registries', f.host], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
  const ingest = path.join(store, 'ingest');
  for (let i = 0; i < 600; i++) {
    if (existsSync(ingest) && readdirSync(ingest).some((n) => n.startsWith(`${child.pid}-`))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(readdirSync(ingest).some((n) => n.startsWith(`${child.pid}-`)), 'the pull never started writing');
  return { child, exited, ingest };
}

test('an interrupted pull leaves nothing in ingest/; a killed one is cleaned at the next write', async () => {
  const f = await fake();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const store = path.join(tmpDir(), 'store');
    const { child, exited, ingest } = await startSlowPull(f, store, sig.toLowerCase());
    child.kill(sig);
    await exited;
    assert.deepEqual(readdirSync(ingest), [], `${sig} left files in ingest/`);
  }
  const store = path.join(tmpDir(), 'store');
  const { child, exited, ingest } = await startSlowPull(f, store, 'kill');
  child.kill('SIGKILL');
  await exited;
  const left = readdirSync(ingest);
  assert.ok(left.length >= 1 && left.every((n) => n.startsWith(`${child.pid}-`)), `SIGKILL cannot clean up: its files are expected here (${left.join(' ')})`);
  // the next write (any pull, under the store lock) removes the dead writer's file
  const layer = serveBlob(f, 'small/one', Buffer.from('tiny layer'), MT_EBPF);
  serveGadget(f, 'small/one', 'v1', layer);
  const r = await pull(f, 'small/one:v1', store);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(ingest), []);
});

test('ig image inspect of a pulled image with an oversized gadget.yaml says so instead of parsing it', async () => {
  const f = await fake();
  const repo = 'evil/bigmeta';
  const yaml = 'name: x\nannotations:\n' + Array.from({ length: 80000 }, (_, i) => `  key${i}: value${i}\n`).join('');
  const config = serveBlob(f, repo, Buffer.from(yaml), 'application/vnd.gadget.config.v1+yaml');
  const layer = serveBlob(f, repo, Buffer.from('not really an object'), MT_EBPF);
  const m = serveManifest(f, repo, { schemaVersion: 2, mediaType: MT_MANIFEST, config, layers: [layer] }, MT_MANIFEST);
  serveManifest(f, repo, { schemaVersion: 2, mediaType: MT_INDEX, manifests: [{ ...m, platform: { architecture: 'amd64', os: 'linux' } }] }, MT_INDEX, 'v1');
  const store = path.join(tmpDir(), 'store');
  assert.equal((await pull(f, `${repo}:v1`, store)).code, 0);
  const r = await runCli(['image', 'inspect', `${f.host}/${repo}:v1`, '--store', store]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /gadget\.yaml is \d+ bytes, more than the 1 MiB limit: not shown/);
});
