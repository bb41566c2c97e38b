// Store stress: concurrent writers (import, tag, remove) are SIGKILLed at random moments and restarted; afterwards
// every blob matches its digest, every image in index.json is complete, and the next write leaves ingest/ empty.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportImages, tagImage } from '../../src/oci/index.js';

const WRITERS = 6;
const KILLS = 60;
const tmp = mkdtempSync(join(tmpdir(), 'ig-store-stress-hostile-'));
const store = join(tmp, 'store');
const WRITER = join(dirname(fileURLToPath(import.meta.url)), 'store-stress-writer.js');
after(() => rmSync(tmp, { recursive: true, force: true }));

function checkStore(): string[] {
  const problems: string[] = [];
  const blobs = join(store, 'blobs', 'sha256');
  for (const h of readdirSync(blobs)) {
    const got = createHash('sha256').update(readFileSync(join(blobs, h))).digest('hex');
    if (got !== h) problems.push(`blob ${h} holds content with digest ${got}`);
  }
  const walk = (d: { digest: string; mediaType: string }, ref: string): void => {
    const f = join(blobs, d.digest.slice(7));
    if (!existsSync(f)) {
      problems.push(`${ref}: blob ${d.digest} is missing`);
      return;
    }
    if (!/manifest|index/.test(d.mediaType)) return;
    const j = JSON.parse(readFileSync(f, 'utf8'));
    for (const c of [...(j.manifests ?? []), ...(j.config ? [j.config] : []), ...(j.layers ?? [])]) walk(c, ref);
  };
  const idx = JSON.parse(readFileSync(join(store, 'index.json'), 'utf8'));
  for (const m of idx.manifests) walk(m, m.annotations?.['org.opencontainers.image.ref.name'] ?? m.digest);
  return problems;
}

test(`${WRITERS} concurrent store writers, ${KILLS} SIGKILLs: digests and images intact afterwards`, { timeout: 150_000 }, async () => {
  const archives: string[] = [];
  for (const g of ['trace_open', 'trace_exec', 'trace_signal']) {
    archives.push(join(tmp, `${g}.tar`));
    await exportImages([g], archives[archives.length - 1]);
  }
  const writers: ChildProcess[] = [];
  const failures: string[] = [];
  const start = (i: number): void => {
    const c = spawn(process.execPath, [WRITER, store, archives[i % archives.length], `stress/w${i}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code, sig) => {
      if (sig !== 'SIGKILL') failures.push(`writer ${i} exited on its own (${code ?? sig}): ${err.trim().split('\n').slice(0, 3).join(' | ')}`);
    });
    writers[i] = c;
  };
  for (let i = 0; i < WRITERS; i++) start(i);
  for (let k = 0; k < KILLS; k++) {
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
    const i = Math.floor(Math.random() * WRITERS);
    const w = writers[i];
    const gone = new Promise((r) => w.once('exit', r));
    w.kill('SIGKILL');
    await gone;
    start(i);
  }
  await Promise.all(writers.map((w) => {
    const gone = new Promise((r) => w.once('exit', r));
    w.kill('SIGKILL');
    return gone;
  }));
  assert.deepEqual(failures, []);
  assert.deepEqual(checkStore(), []);
  // the next write (under the lock) removes what the killed writers left in ingest/
  const idx = JSON.parse(readFileSync(join(store, 'index.json'), 'utf8'));
  const anyRef = idx.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name']).find(Boolean);
  assert.ok(anyRef, 'the writers stored images');
  await tagImage(anyRef, 'stress/final:1', { store });
  assert.deepEqual(readdirSync(join(store, 'ingest')), []);
  assert.deepEqual(checkStore(), []);
});
