// Local store: build (real clang), getGadgetImage, tag/list/remove, export/import, archive safety, locking.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import {
  buildImage, getGadgetImage, listImages, tagImage, removeImage, exportImages, importImages, OciError, mediaTypes,
} from '../../src/oci/index.js';
import { writeTar, readTar } from '../../src/oci/tar.js';
import { cleanupTmp, ensureVmlinux, gadgetCopy, oneErrorLine, runCli, tmpDir, TESTDATA } from './helpers.js';

let store: string;
let built: { reference: string; digest: string };

before(async () => {
  ensureVmlinux();
  store = tmpDir();
  built = await buildImage(path.join(TESTDATA, 'mini'), { tag: 'mini:v1', store });
});
after(() => cleanupTmp());

function readJson(p: string): any {
  return JSON.parse(readFileSync(p, 'utf8'));
}

test('build writes an OCI index with upstream media types and annotations', () => {
  assert.equal(built.reference, 'ghcr.io/inspektor-gadget/gadget/mini:v1');
  const idxFile = readJson(path.join(store, 'index.json'));
  const entry = idxFile.manifests.find((m: any) => m.annotations['org.opencontainers.image.ref.name'] === built.reference);
  assert.equal(entry.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(entry.digest, built.digest);
  const blob = (d: string) => readFileSync(path.join(store, 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(blob(built.digest).toString());
  assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(index.manifests.map((m: any) => m.platform), [{ architecture: 'amd64', os: 'linux' }]);
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(manifest.artifactType, 'application/vnd.gadget.v1+binary');
  assert.equal(manifest.config.mediaType, 'application/vnd.gadget.config.v1+yaml');
  assert.deepEqual(manifest.layers.map((l: any) => l.mediaType), ['application/vnd.gadget.ebpf.program.v1+binary']);
  const a = index.annotations;
  assert.equal(a['org.opencontainers.image.title'], 'mini');
  assert.equal(a['org.opencontainers.image.description'], 'a tiny gadget used by the image tests');
  assert.equal(a['org.opencontainers.image.url'], 'https://example.invalid/mini');
  assert.equal(a['org.opencontainers.image.documentation'], 'https://example.invalid/mini/docs');
  assert.equal(a['org.opencontainers.image.source'], 'https://example.invalid/mini/src');
  assert.equal(a['io.example.team'], 'tests');
  assert.match(a['io.inspektor-gadget.builder.version'], /^v\d/);
  assert.match(a['org.opencontainers.image.created'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(manifest.annotations, a);
  assert.deepEqual(manifest.config.annotations, a);
  assert.deepEqual(index.manifests[0].annotations, a);
});

test('getGadgetImage reads a built image without flags (built images skip verification)', async () => {
  const img = await getGadgetImage('mini:v1', { store });
  assert.equal(img.reference, 'ghcr.io/inspektor-gadget/gadget/mini:v1');
  assert.equal(img.digest, built.digest);
  assert.equal(img.origin, 'built');
  assert.equal(img.metadata?.toString(), readFileSync(path.join(TESTDATA, 'mini', 'gadget.yaml'), 'utf8'));
  assert.ok(img.ebpf && img.ebpf.subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1')));
  assert.equal(img.wasm, null);
  assert.equal(img.btfgen, null);
  assert.equal(img.annotations['org.opencontainers.image.title'], 'mini');
  // by digest too
  const byDigest = await getGadgetImage(`mini@${built.digest}`, { store });
  assert.equal(byDigest.digest, built.digest);
});

test('getGadgetImage: missing image with pulling disabled, pull never, allowed-gadgets', async () => {
  await assert.rejects(getGadgetImage('nosuch', { store, disallowPulling: true }), (e: Error) => {
    assert.ok(e instanceof OciError);
    assert.equal(e.message, `image "nosuch": not found in the local store (${store}) and pulling is disabled`);
    return true;
  });
  await assert.rejects(getGadgetImage('nosuch', { store, pull: 'never' }), /not found in the local store .* and the pull policy is "never"/);
  await assert.rejects(getGadgetImage('mini:v1', { store, pull: 'always', disallowPulling: true }), /pulling is disabled/);
  await assert.rejects(getGadgetImage('mini:v1', { store, allowedGadgets: ['trace_*'] }), /is not in the allowed gadgets list/);
  const ok = await getGadgetImage('mini:v1', { store, allowedGadgets: ['trace_*', 'ghcr.io/inspektor-gadget/gadget/mini:*'] });
  assert.equal(ok.digest, built.digest);
});

test('reproducible builds: SOURCE_DATE_EPOCH gives byte-identical images', async () => {
  const old = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = '1700000000';
  try {
    const s1 = tmpDir();
    const s2 = tmpDir();
    const a = await buildImage(gadgetCopy(), { tag: 'mini:r', store: s1 });
    const b = await buildImage(gadgetCopy(), { tag: 'mini:r', store: s2 });
    assert.equal(a.digest, b.digest);
    assert.deepEqual(readdirSync(path.join(s1, 'blobs', 'sha256')).sort(), readdirSync(path.join(s2, 'blobs', 'sha256')).sort());
    const img = await getGadgetImage('mini:r', { store: s1 });
    assert.equal(img.annotations['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
  } finally {
    if (old === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = old;
  }
});

test('a blank SOURCE_DATE_EPOCH reads as unset: the build succeeds (clang is not handed it) with the current time', async () => {
  const old = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = ' ';
  try {
    const store = tmpDir();
    const before = Date.now();
    await buildImage(gadgetCopy(), { tag: 'mini:blank', store });
    const created = Date.parse((await getGadgetImage('mini:blank', { store })).annotations['org.opencontainers.image.created']!);
    assert.ok(created >= Math.floor(before / 1000) * 1000 && created <= Date.now(), `created ${created}`);
  } finally {
    if (old === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = old;
  }
});

test('build -o keeps the object; --validate-metadata: a missing param fails, a missing field or data source warns', async () => {
  const g = gadgetCopy();
  const out = tmpDir();
  const s = tmpDir();
  let r = await runCli(['image', 'build', g, '-t', 'x:1', '-o', out, '--store', s]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Successfully built ghcr\.io\/inspektor-gadget\/gadget\/x:1@sha256:[0-9a-f]{64}\n$/);
  assert.ok(existsSync(path.join(out, 'amd64.bpf.o')));

  const yaml = readFileSync(path.join(g, 'gadget.yaml'), 'utf8');
  // as upstream: fields and data sources a WASM module or operator may add are warnings, params are errors
  const warns: [string, RegExp][] = [
    [yaml.replace('dst.port: {}', 'dst.nope: {}'), /^WARN: gadget\.yaml: field "dst\.nope" of data source "exec" does not exist in the eBPF object$/m],
    [yaml.replace('  exec:\n', '  open:\n'), /^WARN: gadget\.yaml: data source "open" does not exist in the eBPF object \(it has: exec\)$/m],
  ];
  for (const [text, re] of warns) {
    writeFileSync(path.join(g, 'gadget.yaml'), text);
    r = await runCli(['image', 'build', g, '--store', s]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, re);
  }
  writeFileSync(path.join(g, 'gadget.yaml'), yaml.replace('    targ_min_pid:', '    targ_max:'));
  r = await runCli(['image', 'build', g, '--store', s]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /ebpf param "targ_max" does not exist in the eBPF object/);
  // and --validate-metadata=false lets it through
  const r2 = await runCli(['image', 'build', g, '--store', s, '--validate-metadata=false']);
  assert.equal(r2.code, 0, r2.stderr);
});

test('build.yaml cflags reach clang; a failed compile lists every clang error', async () => {
  const g = gadgetCopy();
  const s = tmpDir();
  const src = readFileSync(path.join(g, 'program.bpf.c'), 'utf8');
  // compiles only when the flag from build.yaml defines IG_TEST_FLAG
  writeFileSync(path.join(g, 'program.bpf.c'), `#ifndef IG_TEST_FLAG\n#error "IG_TEST_FLAG missing"\n#endif\n${src}`);
  writeFileSync(path.join(g, 'build.yaml'), 'cflags: -DIG_TEST_FLAG=1 -Wno-unused-variable\n');
  let r = await runCli(['image', 'build', g, '--store', s]);
  assert.equal(r.code, 0, r.stderr);

  writeFileSync(path.join(g, 'build.yaml'), 'cflags: -DIG_TEST_FLAG=1\n');
  writeFileSync(path.join(g, 'program.bpf.c'), `${src}\nint bad_one(void) { return undeclared_a; }\nint bad_two(void) { return undeclared_b; }\n`);
  r = await runCli(['image', 'build', g, '--store', s]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.some((l) => /^Error: compiling program\.bpf\.c for amd64 failed with 2 errors:$/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /program\.bpf\.c:\d+:\d+: error: use of undeclared identifier 'undeclared_a'/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /program\.bpf\.c:\d+:\d+: error: use of undeclared identifier 'undeclared_b'/.test(l)), r.stderr);
  assert.ok(!r.stderr.includes('at '), 'no stack trace');
});

test('--update-metadata creates gadget.yaml from the object', async () => {
  const g = gadgetCopy();
  rmSync(path.join(g, 'gadget.yaml'));
  const s = tmpDir();
  const r = await runCli(['image', 'build', g, '--update-metadata', '--store', s]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Successfully built @sha256:/);
  const y = readFileSync(path.join(g, 'gadget.yaml'), 'utf8');
  for (const f of ['timestamp_raw:', 'mntns_id:', 'pid:', 'comm:', 'dst.port:', 'targ_min_pid:', 'name:']) assert.ok(y.includes(f), `${f} in\n${y}`);
});

test('build.yaml: a prebuilt .wasm becomes the wasm layer; a missing explicit source is an error', async () => {
  const g = gadgetCopy();
  // the smallest valid WebAssembly module: magic + version
  const wasm = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  writeFileSync(path.join(g, 'prog.wasm'), wasm);
  writeFileSync(path.join(g, 'build.yaml'), 'ebpfsource: program.bpf.c\nwasm: prog.wasm\nmetadata: gadget.yaml\n');
  const s = tmpDir();
  await buildImage(g, { tag: 'withwasm:1', store: s });
  const img = await getGadgetImage('withwasm:1', { store: s });
  assert.ok(img.wasm?.equals(wasm));
  assert.ok(img.ebpf);
  const manifest = JSON.parse(readFileSync(path.join(s, 'blobs', 'sha256', img.manifestDigest.slice(7)), 'utf8'));
  assert.deepEqual(manifest.layers.map((l: any) => l.mediaType), [mediaTypes.MT_EBPF, mediaTypes.MT_WASM]);

  writeFileSync(path.join(g, 'build.yaml'), 'ebpfsource: nothere.bpf.c\n');
  const r = await runCli(['image', 'build', g, '--store', s]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /eBPF source nothere\.bpf\.c \(from build\.yaml\) does not exist/);
  // metadata only: the config is the gadget.yaml, no layers
  rmSync(path.join(g, 'build.yaml'));
  rmSync(path.join(g, 'program.bpf.c'));
  await buildImage(g, { tag: 'metaonly:1', store: s });
  const mo = await getGadgetImage('metaonly:1', { store: s });
  assert.equal(mo.ebpf, null);
  assert.ok(mo.metadata);
});

test('tag, list, remove: untag when shared, delete and GC otherwise', async () => {
  const s = tmpDir();
  await buildImage(path.join(TESTDATA, 'mini'), { tag: 'gc:one', store: s });
  await tagImage('gc:one', 'localhost:5000/team/gc:two', { store: s });
  let list = await listImages({ store: s });
  assert.deepEqual(list.map((i) => [i.repository, i.tag]), [['gc', 'one'], ['localhost:5000/team/gc', 'two']]);
  let r = await runCli(['image', 'list', '--store', s]);
  assert.match(r.stdout.split('\n')[0], /^REPOSITORY\s+TAG\s+DIGEST\s+CREATED$/);
  assert.match(r.stdout, /\ngc\s+one\s+[0-9a-f]{12}\s/);
  r = await runCli(['image', 'list', '--store', s, '-o', 'json', '--no-trunc']);
  const j = JSON.parse(r.stdout);
  assert.equal(j[0].digest.length, 71);

  const blobs = () => readdirSync(path.join(s, 'blobs', 'sha256')).length;
  const n = blobs();
  const u = await removeImage('gc:one', { store: s });
  assert.equal(u.deleted, false);
  assert.equal(blobs(), n);
  const d = await removeImage('localhost:5000/team/gc:two', { store: s });
  assert.equal(d.deleted, true);
  assert.equal(blobs(), 0);
  list = await listImages({ store: s });
  assert.equal(list.length, 0);
  r = await runCli(['image', 'rm', 'gc:one', '--store', s]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /^Error: image "gc:one": not found in the local store/);
});

test('a tampered blob in the store is refused', async () => {
  const s = tmpDir();
  const b = await buildImage(path.join(TESTDATA, 'mini'), { tag: 'tamper:1', store: s });
  const index = JSON.parse(readFileSync(path.join(s, 'blobs', 'sha256', b.digest.slice(7)), 'utf8'));
  const manifest = JSON.parse(readFileSync(path.join(s, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const layer = path.join(s, 'blobs', 'sha256', manifest.layers[0].digest.slice(7));
  const data = readFileSync(layer);
  data[data.length - 1] ^= 0xff;
  writeFileSync(layer, data);
  await assert.rejects(getGadgetImage('tamper:1', { store: s }), /does not match its digest \(corrupted or tampered\)/);
});

test('export → import on a clean store round-trips byte-identical', async () => {
  const s1 = tmpDir();
  const old = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = '1700000000';
  try {
    await buildImage(path.join(TESTDATA, 'mini'), { tag: 'exp:1', store: s1 });
  } finally {
    if (old === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = old;
  }
  await tagImage('exp:1', 'example.com/other/exp:2', { store: s1 });
  const dir = tmpDir();
  const a = path.join(dir, 'a.tar');
  const b = path.join(dir, 'b.tar');
  let r = await runCli(['image', 'export', 'exp:1', 'example.com/other/exp:2', a, '--store', s1]);
  assert.equal(r.code, 0, r.stderr);
  const entries = readTar(readFileSync(a));
  assert.deepEqual(entries.slice(0, 2).map((e) => e.name), ['oci-layout', 'index.json']);
  const layout = JSON.parse(entries[1].data.toString());
  assert.deepEqual(layout.manifests.map((m: any) => m.annotations['org.opencontainers.image.ref.name']).sort(), [
    'example.com/other/exp:2', 'ghcr.io/inspektor-gadget/gadget/exp:1',
  ]);
  // header times are the image's creation time
  assert.equal(readFileSync(a).subarray(136, 147).toString(), (1700000000).toString(8).padStart(11, '0'));

  const s2 = tmpDir();
  r = await runCli(['image', 'import', a, '--store', s2, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).sort(), ['example.com/other/exp:2', 'ghcr.io/inspektor-gadget/gadget/exp:1']);
  await exportImages(['example.com/other/exp:2', 'exp:1'], b, { store: s2 });
  assert.ok(readFileSync(a).equals(readFileSync(b)), 'second export differs from the first');
  const img = await getGadgetImage('exp:1', { store: s2 });
  assert.equal(img.origin, 'imported');
});

// --- malicious archives ------------------------------------------------------------------------------------

/** A tar with arbitrary entry names and types (links included), for the refusal tests. */
function craftTar(entries: { name: string; type?: string; data?: Buffer; link?: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.fill(0x20, 148, 156);
    h.write(e.type ?? '0', 156);
    if (e.link) h.write(e.link, 157, 100, 'utf8');
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

test('import refuses tar-slip archives and tampered blobs, writing nothing', async () => {
  const s1 = tmpDir();
  await buildImage(path.join(TESTDATA, 'mini'), { tag: 'slip:1', store: s1 });
  const dir = tmpDir();
  const good = path.join(dir, 'good.tar');
  await exportImages(['slip:1'], good, { store: s1 });
  const entries = readTar(readFileSync(good));
  const base = entries.map((e) => ({ name: e.name, data: e.data }));
  const victim = path.join(dir, 'victim');
  const cases: [string, Buffer, RegExp][] = [
    ['dotdot', craftTar([...base, { name: '../../victim', data: Buffer.from('x') }]), /refusing archive entry "\.\.\/\.\.\/victim": "\.\." escapes the layout/],
    ['absolute', craftTar([...base, { name: victim, data: Buffer.from('x') }]), /absolute path escapes the layout/],
    ['symlink', craftTar([{ name: 'blobs/sha256/link', type: '2', link: '/etc/passwd' }, ...base]), /symbolic link to "\/etc\/passwd" is not allowed/],
    ['hardlink', craftTar([...base, { name: 'x', type: '1', link: 'index.json' }]), /hard link/],
    ['tampered', writeTar(base.map((e) => (e.name.startsWith('blobs/') && e.data.length > 3000 ? { ...e, data: Buffer.concat([e.data, Buffer.from('!')]) } : e))), /does not match its digest \(tampered or corrupted archive\)/],
  ];
  for (const [what, tar, re] of cases) {
    const f = path.join(dir, `${what}.tar`);
    writeFileSync(f, tar);
    const s2 = path.join(tmpDir(), 'store');
    const r = await runCli(['image', 'import', f, '--store', s2]);
    assert.equal(r.code, 1, what);
    assert.match(oneErrorLine(r), re, what);
    assert.equal(existsSync(s2), false, `${what}: the store was touched`);
    assert.equal(existsSync(victim), false);
  }
  // an existing store stays as it was
  const s3 = tmpDir();
  await buildImage(path.join(TESTDATA, 'mini'), { tag: 'keep:1', store: s3 });
  const before = readFileSync(path.join(s3, 'index.json'));
  await assert.rejects(importImages(path.join(dir, 'tampered.tar'), { store: s3 }), OciError);
  assert.ok(readFileSync(path.join(s3, 'index.json')).equals(before));
  assert.deepEqual(readdirSync(path.join(s3, 'ingest')), []);
});

test('two concurrent store writers do not lose or corrupt index.json entries', async () => {
  const s = tmpDir();
  await buildImage(path.join(TESTDATA, 'mini'), { tag: 'base:1', store: s });
  const writer = path.join(path.dirname(new URL(import.meta.url).pathname), 'store-writer.js');
  const run = (prefix: string) =>
    new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [writer, s, prefix, '25'], (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve()));
    });
  await Promise.all([run('alpha'), run('beta'), run('gamma')]);
  const idx = JSON.parse(readFileSync(path.join(s, 'index.json'), 'utf8'));
  const names = new Set(idx.manifests.map((m: any) => m.annotations['org.opencontainers.image.ref.name']));
  assert.equal(names.size, 1 + 75);
  for (const p of ['alpha', 'beta', 'gamma']) for (let i = 0; i < 25; i++) assert.ok(names.has(`ghcr.io/inspektor-gadget/gadget/${p}:${i}`));
});

test('CLI errors are one line with exit code 1', async () => {
  const s = tmpDir();
  mkdirSync(s, { recursive: true });
  for (const args of [
    ['image', 'inspect', 'nosuch', '--store', s],
    ['image', 'tag', 'nosuch', 'x', '--store', s],
    ['image', 'build', '/nonexistent/dir', '--store', s],
    ['image', 'import', '/nonexistent.tar', '--store', s],
    ['image', 'pull', 'Bad//ref', '--store', s],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 1, args.join(' '));
    oneErrorLine(r);
  }
  assert.equal(mediaTypes.MT_EBPF, 'application/vnd.gadget.ebpf.program.v1+binary');
});
