// The native replay loop (native/src/replay_loop.c): `ig replay FILE -o json|columns` renders the recorded batches
// without JS per batch. It must print what the per-batch path (IG_NATIVE_REPLAY=0) and the JS pipeline
// (IG_NATIVE_RENDER=0) print, byte for byte, over many chunks with host facts between the batches (a changed answer
// invalidates the plan's memos: misses go through JS mid-stream), and stop at damage with the same one-line
// message: a file cut short, flipped bytes, a malformed entry inside a chunk whose checksum is right. A chunk in a
// codec the loop leaves to JS (deflate) is read on by JS's reader.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { runIgSync } from '../harness/ig.js';
import { prepareGadget } from '../../src/runtime/assemble.js';
import { defaultDataOperators } from '../../src/runtime/operators.js';
import { Logger } from '../../src/gadget/logger.js';
import { Kind, baseKind, isIntegerKind, type Batch } from '../../src/datasource/index.js';
import { getGadgetImage } from '../../src/oci/image-load.js';
import { RecordingWriter } from '../../src/record/writer.js';
import { CHUNK_HEADER_BYTES, Codec, FILE_HEADER_BYTES, chunkHeader, compress, parseChunkHeader, chunkContent } from '../../src/record/format.js';
import { toReaderLayout } from '../../src/operators/ebpf/record-tap.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-h18replay-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'storm.igrec');
const BATCHES = 48;
const PER_BATCH = 200;

/** trace_open records: a few processes and users, varying fds and errors; the rest zero. */
function fill(b: Batch, seed: number): void {
  b.buf.fill(0);
  const statics = b.ds.fields.filter((f) => f.storage.type === 'static' && !f.isEmpty && !f.storage.bitSize && !f.fullName.startsWith('ustack'));
  for (let i = 0; i < b.count; i++) {
    const n = seed + i;
    for (const [k, f] of statics.entries()) {
      const s = f.storage as { offs: number; size: number };
      const o = b.offs[i]! + s.offs;
      if (baseKind(f.kind) === Kind.CString || baseKind(f.kind) === Kind.String) {
        b.buf.write(f.name.includes('comm') ? `h18c${n % 5}` : `/tmp/h18replay/f${(n + k) % 31}`.slice(0, s.size - 1), o);
      } else if (s.size === 8 && f.name.includes('timestamp')) {
        b.buf.writeBigUInt64LE(7_000_000_000_000n + BigInt(n) * 1000n, o);
      } else if (isIntegerKind(f.kind) && (s.size === 4 || s.size === 8)) {
        const v = f.name.includes('mntns') ? 0 : f.name.includes('uid') || f.name.includes('gid') ? n % 3
          : f.name === 'pid' || f.name === 'tid' ? 5000 + (n % 5) : (n * 7919 + k * 31) % 64;
        b.buf.writeUInt32LE(v, o);
      }
    }
  }
}

before(async () => {
  const img = await getGadgetImage('trace_open', { pull: 'never' });
  // Small chunks: the batches spread over ~100 chunks, most of them read by the native loop.
  const w = new RecordingWriter(file, { chunkBytes: 128 << 10 });
  w.begin(img, 'test');
  w.fact('clock', 'boot-to-wall-ns', '1700000000000000000');
  for (const [id, name] of [[0, 'root'], [1, 'daemon'], [2, 'bin']] as const) { w.fact('user', String(id), name); w.fact('group', String(id), name); }
  const ctx = await prepareGadget('trace_open', { operators: defaultDataOperators(), log: new Logger('error'), image: { pull: 'never' } });
  const ds = ctx.dataSources.get('open')!;
  const b = ds.newBatch(PER_BATCH);
  for (let i = 0; i < BATCHES; i++) {
    // Answers that change mid-stream: the plan's memos for them go stale.
    if (i === 17) w.fact('user', '1', 'daemon2');
    if (i === 31) { w.fact('group', '2', 'bin2'); w.lost('open', 7, 'ring full'); }
    fill(b, i * PER_BATCH);
    w.batch('open', toReaderLayout(b), PER_BATCH, 0).commit();
    await new Promise((r) => setImmediate(r));
  }
  await w.close('test');
});

function replay(path: string, flags: string[], env: NodeJS.ProcessEnv = {}) {
  return runIgSync(['replay', path, ...flags], { env, timeoutMs: 120000 });
}

/** The native loop's output and stderr against the per-batch path's (and the JS pipeline's when `js`). */
function same(path: string, flags: string[], js = false): { stdout: string; stderr: string } {
  const n = replay(path, [...flags, '-v']);
  assert.equal(n.code, 0, n.stderr);
  assert.match(n.stderr, /open: recorded batches rendered by the native replay loop/);
  const p = replay(path, flags, { IG_NATIVE_REPLAY: '0' });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(n.stdout, p.stdout);
  const warn = (s: string) => s.split('\n').filter((l) => l.startsWith('WARN')).join('\n');
  assert.equal(warn(n.stderr), warn(p.stderr));
  if (js) {
    const j = replay(path, flags, { IG_NATIVE_RENDER: '0' });
    assert.equal(j.code, 0, j.stderr);
    assert.equal(n.stdout, j.stdout);
  }
  return { stdout: n.stdout, stderr: warn(n.stderr) };
}

/** [offset, stored length] of every chunk. */
function chunks(bytes: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let at = FILE_HEADER_BYTES; at + CHUNK_HEADER_BYTES <= bytes.length;) {
    const h = parseChunkHeader(bytes.subarray(at, at + CHUNK_HEADER_BYTES));
    out.push([at, h.stored]);
    at += CHUNK_HEADER_BYTES + h.stored;
  }
  return out;
}

test('the native loop prints what the per-batch path and the JS pipeline print (JSON, columns, a filter)', () => {
  const all = same(file, ['-o', 'json'], true);
  const lines = all.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, BATCHES * PER_BATCH);
  assert.ok(chunks(readFileSync(file)).length > 20, 'the recording spans many chunks');
  // The changed answers show from where they were recorded on.
  const creds = lines.map((l) => (JSON.parse(l) as { proc: { creds: { uid: number; user: string } } }).proc.creds);
  const names = new Set<string>();
  for (const [i, c] of creds.entries()) {
    const want = ['root', i >= 17 * PER_BATCH ? 'daemon2' : 'daemon', 'bin'][c.uid];
    assert.equal(c.user, want, `record ${i}: uid ${c.uid}`);
    names.add(c.user);
  }
  assert.deepEqual([...names].sort(), ['bin', 'daemon', 'daemon2', 'root']);
  assert.equal(all.stderr, 'WARN: open: lost 7 events (ring full)');
  same(file, ['-o', 'columns'], true);
  same(file, ['-o', 'json', '--filter', 'proc.comm==h18c3', '--fields', 'proc.comm,proc.creds.group,fname,error']);
});

test('damage: the native loop stops where the JS reader stops, with the same line', () => {
  const bytes = readFileSync(file);
  const cs = chunks(bytes);
  const mid = cs[Math.floor(cs.length / 2)]!;

  const cut = join(dir, 'cut.igrec');
  writeFileSync(cut, bytes.subarray(0, mid[0] + CHUNK_HEADER_BYTES + 100));
  const c = same(cut, ['-o', 'json']);
  assert.match(c.stderr, /^WARN: recording .*cut\.igrec: replay stopped at byte \d+ of \d+: chunk \d+ is cut short[^\n]*$/);

  const flipped = join(dir, 'flipped.igrec');
  const f = Buffer.from(bytes);
  f[mid[0] + CHUNK_HEADER_BYTES + 10] ^= 0x5a;
  writeFileSync(flipped, f);
  const fl = same(flipped, ['-o', 'json']);
  assert.match(fl.stderr, /^WARN: recording .*flipped\.igrec: replay stopped at byte \d+ of \d+: chunk \d+: checksum mismatch[^\n]*$/);

  // A chunk with a right checksum whose last entry announces more bytes than the chunk has.
  const bad = join(dir, 'entry.igrec');
  const head = parseChunkHeader(bytes.subarray(mid[0], mid[0] + CHUNK_HEADER_BYTES));
  const content = chunkContent(head, bytes.subarray(mid[0] + CHUNK_HEADER_BYTES, mid[0] + CHUNK_HEADER_BYTES + mid[1]));
  const shorter = content.subarray(0, content.length - 50);
  const stored = compress(Codec.Zstd, shorter);
  writeFileSync(bad, Buffer.concat([bytes.subarray(0, mid[0]), chunkHeader(head.seq, Codec.Zstd, stored, shorter.length), stored, bytes.subarray(mid[0] + CHUNK_HEADER_BYTES + mid[1])]));
  const e = same(bad, ['-o', 'json']);
  assert.match(e.stderr, /^WARN: recording .*entry\.igrec: replay stopped at byte \d+ of \d+: chunk \d+: entry at byte \d+ of the chunk: \d+ bytes announced, \d+ left$/);

  // A deflate chunk in the middle: JS's reader reads on from it to the end, nothing is lost.
  const mixed = join(dir, 'mixed.igrec');
  const deflated = deflateRawSync(content, { level: 1 });
  writeFileSync(mixed, Buffer.concat([bytes.subarray(0, mid[0]), chunkHeader(head.seq, Codec.Deflate, deflated, content.length), deflated, bytes.subarray(mid[0] + CHUNK_HEADER_BYTES + mid[1])]));
  const m = same(mixed, ['-o', 'json']);
  assert.equal(m.stderr, 'WARN: open: lost 7 events (ring full)');
  assert.equal(m.stdout.split('\n').filter(Boolean).length, BATCHES * PER_BATCH);
});
