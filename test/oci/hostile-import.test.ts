// `ig image import` never trusts the archive: only regular files, streamed (a 256 MiB blob does not need 256 MiB of
// memory), a cap on the decompressed total, and nothing left in the store when it is refused or interrupted.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as path from 'node:path';
import { buildImage, exportImages, importImages, OciError } from '../../src/oci/index.js';
import { writeTar } from '../../src/oci/tar.js';
import { patternChunks } from './fake-malicious-registry.js';
import { CLI, cleanupTmp, ensureVmlinux, oneErrorLine, runCli, tmpDir, TESTDATA } from './helpers.js';

after(() => cleanupTmp());

test('non-regular files are refused at once: /dev/zero, a FIFO, a directory', async () => {
  const dir = tmpDir();
  const fifo = path.join(dir, 'fifo.tar');
  execFileSync('mkfifo', [fifo]);
  for (const [file, kind] of [['/dev/zero', 'device or socket'], [fifo, 'pipe'], [dir, 'directory']] as const) {
    const store = path.join(tmpDir(), 'store');
    const r = await runCli(['image', 'import', file, '--store', store]);
    assert.equal(r.code, 1, file);
    assert.match(oneErrorLine(r), new RegExp(`cannot import ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a regular file .*${kind}`), file);
    assert.equal(existsSync(store), false, `${file}: the store was created`);
  }
});

test('the decompressed total is capped (a gzip bomb stops at the cap)', async () => {
  ensureVmlinux();
  const s1 = tmpDir();
  await buildImage(path.join(TESTDATA, 'mini'), { tag: 'capped:1', store: s1 });
  const dir = tmpDir();
  const tarFile = path.join(dir, 'a.tar');
  await exportImages(['capped:1'], tarFile, { store: s1 });
  const store = path.join(tmpDir(), 'store');
  await assert.rejects(importImages(tarFile, { store, maxBytes: 4096 }), (e: Error) => e instanceof OciError && /holds more than 4096 bytes, the limit for an image archive/.test(e.message));
  assert.equal(existsSync(store), false);
  // a 64 MiB entry of zeros in a 64 kB gzip: refused at 8 MiB
  const bomb = path.join(dir, 'bomb.tar.gz');
  writeFileSync(bomb, gzipSync(Buffer.concat([tarHeader('junk', 64 << 20), Buffer.alloc(64 << 20)])));
  await assert.rejects(importImages(bomb, { store, maxBytes: 8 << 20 }), /holds more than 8 MiB/);
  assert.equal(existsSync(store), false);
  // the real default still imports a normal archive
  assert.deepEqual(await importImages(tarFile, { store }), ['ghcr.io/inspektor-gadget/gadget/capped:1']);
});

/** A ustar header for a regular file of `size` bytes (the data follows separately). */
function tarHeader(name: string, size: number): Buffer {
  const hdr = Buffer.from(writeTar([{ name, data: Buffer.alloc(0) }]).subarray(0, 512));
  hdr.write(size.toString(8).padStart(11, '0') + '\0', 124, 12, 'latin1');
  hdr.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of hdr) sum += b;
  hdr.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return hdr;
}

/** An OCI layout tar with one `size`-byte blob (written by streaming, never whole in memory). */
function bigArchive(file: string, size: number): string {
  const h = createHash('sha256');
  for (const c of patternChunks(size)) h.update(c);
  const digest = 'sha256:' + h.digest('hex');
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.gadget.ebpf.program.v1+binary', digest, size }] }));
  const head = writeTar([{ name: 'index.json', data: index }]).subarray(0, -1024);
  const hdr = tarHeader(`blobs/sha256/${digest.slice(7)}`, size);
  const fd = openSync(file, 'w');
  writeSync(fd, head);
  writeSync(fd, hdr);
  for (const c of patternChunks(size)) writeSync(fd, c);
  writeSync(fd, Buffer.alloc((512 - (size % 512)) % 512 + 1024));
  closeSync(fd);
  return digest;
}

function measured(args: string[]): Promise<{ code: number; stderr: string; rssMb: number }> {
  return new Promise((resolve) => {
    const c = spawn('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? 1, stderr: err, rssMb: Number(/maxrss=(\d+)/.exec(err)?.[1] ?? NaN) / 1024 }));
  });
}

test('a 256 MiB blob is imported by streaming; SIGINT/SIGTERM during an import leave nothing in ingest/', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'big.tar');
  const digest = bigArchive(file, 256 << 20);
  const store = path.join(tmpDir(), 'store');
  const r = await measured(['image', 'import', file, '--store', store]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.rssMb < 200, `importing a 256 MiB blob took ${r.rssMb.toFixed(0)} MB resident`);
  assert.ok(existsSync(path.join(store, 'blobs', 'sha256', digest.slice(7))));
  assert.deepEqual(readdirSync(path.join(store, 'ingest')), []);

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const s = path.join(tmpDir(), 'store');
    mkdirSync(path.join(s, 'ingest'), { recursive: true });
    let seen = false;
    for (let attempt = 0; attempt < 3 && !seen; attempt++) {
      const child = spawn(process.execPath, [CLI, 'image', 'import', file, '--store', s], { stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      let done = false;
      void exited.then(() => (done = true));
      while (!done && !seen) {
        seen = readdirSync(path.join(s, 'ingest')).some((n) => n.startsWith(`${child.pid}-`));
        if (!seen) await new Promise((res) => setTimeout(res, 2));
      }
      if (seen) child.kill(sig);
      await exited;
    }
    assert.ok(seen, 'the import never wrote to ingest/');
    assert.deepEqual(readdirSync(path.join(s, 'ingest')), [], `${sig} left files in ingest/`);
  }
});
