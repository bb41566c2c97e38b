// The recording format end to end without a kernel: a writer's batches, facts and lost counts come back from a
// reader in order; damage ends the replay where it starts, in one line; rotation leaves files that replay alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { RecordingWriter, type RecordedImage } from './writer.js';
import { openRecording, recordingInfo } from './recording.js';
import { RecordingReader } from './reader.js';
import { Codec, EntryType, RecordingError } from './format.js';
import { HostFacts } from '../gadget/host-facts.js';

const image: RecordedImage = {
  reference: 'ghcr.io/inspektor-gadget/gadget/trace_test:latest', digest: 'sha256:' + 'ab'.repeat(32), annotations: { a: 'b' },
  metadata: Buffer.from('name: trace_test\n'), layers: [{ mediaType: 'application/vnd.gadget.ebpf.program.v1+binary', digest: 'sha256:' + 'cd'.repeat(32), data: Buffer.from('ELF-bytes') }],
};

/** A reader-layout batch of `count` records of `size` bytes, record k filled with seed+k. */
function readerBatch(count: number, size: number, seed: number): Buffer {
  const stride = 8 + ((size + 7) & ~7);
  const b = Buffer.alloc(stride * count + 64); // longer than used, as a native batch buffer is
  for (let k = 0; k < count; k++) {
    b.writeUInt32LE(size, k * stride);
    b.fill((seed + k) & 0xff, k * stride + 8, k * stride + 8 + size);
  }
  return b;
}

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tmp(name: string): string {
  const d = mkdtempSync(join(tmpdir(), 'ig-rec-unit-'));
  dirs.push(d);
  return join(d, name);
}

interface Seen { batches: { ds: string; count: number; raw: Buffer; layout: number }[]; lost: [string, number, string][] }

async function replayAll(path: string): Promise<Seen & { stopped?: string; facts: HostFacts }> {
  const rec = openRecording(path);
  const seen: Seen = { batches: [], lost: [] };
  const feed = rec.feed();
  await feed.run({
    batch: (ds, raw, count, layout) => seen.batches.push({ ds, count, raw: Buffer.from(raw), layout }),
    lost: (ds, n, cause) => seen.lost.push([ds, n, cause]),
  }, new AbortController().signal);
  return { ...seen, stopped: feed.stopped, facts: rec.facts };
}

test('batches, facts and lost counts come back in order; the copy is taken at batch() time', async () => {
  const path = tmp('a.igrec');
  const w = new RecordingWriter(path);
  const facts = HostFacts.record(w);
  // A fact asked while the operators are set up, before the image is known: it follows the image.
  assert.equal(facts.ask('clock', 'boot-to-wall-ns', () => '123', '0'), '123');
  w.begin(image, 'v9.9.9');
  w.params({ 'operator.LocalManager.host': 'true' });
  const b1 = readerBatch(3, 20, 1);
  const p1 = w.batch('open', b1, 3, 0);
  b1.fill(0xee); // what the pipeline does to the batch after the copy must not reach the recording
  assert.equal(facts.ask('user', '1000', () => 'alice', ''), 'alice');
  assert.equal(facts.ask('user', '1000', () => 'alice', ''), 'alice'); // unchanged: not logged again
  p1.commit();
  w.lost('open', 7, 'ring buffer full');
  const fixed = Buffer.alloc(4 * 16, 5);
  w.batch('files', fixed, 4, 16).commit();
  await w.close('timeout');

  const r = await replayAll(path);
  assert.equal(r.stopped, undefined);
  assert.deepEqual(r.batches.map((b) => [b.ds, b.count, b.layout]), [['open', 3, 0], ['files', 4, 16]]);
  assert.deepEqual(r.batches[0]!.raw, readerBatch(3, 20, 1).subarray(0, 3 * 32));
  assert.deepEqual(r.batches[1]!.raw, fixed);
  assert.deepEqual(r.lost, [['open', 7, 'ring buffer full']]);
  assert.equal(r.facts.ask('user', '1000', () => 'bob', ''), 'alice');
  assert.equal(r.facts.ask('user', '1001', () => 'bob', '?'), '?');

  const rec = openRecording(path);
  assert.equal(rec.header.image.reference, image.reference);
  assert.deepEqual(rec.image.metadata, image.metadata);
  assert.deepEqual(rec.image.ebpf, image.layers[0]!.data);
  assert.deepEqual(rec.params, { 'operator.LocalManager.host': 'true' });
  // Facts before the first batch are known before the feed runs (operators ask them while being set up).
  assert.equal(rec.facts.ask('clock', 'boot-to-wall-ns', () => 'live', '0'), '123');
  rec.close();

  const info = recordingInfo(path);
  assert.equal(info.end, 'timeout');
  assert.deepEqual(info.dataSources, [{ name: 'open', batches: 1, records: 3, lost: 7 }, { name: 'files', batches: 1, records: 4, lost: 0 }]);
  assert.equal(info.header.ig, 'v9.9.9');
});

test('a file cut in the middle replays its whole chunks and says where it stopped', async () => {
  const path = tmp('cut.igrec');
  const w = new RecordingWriter(path, { chunkBytes: 4096 });
  w.begin(image);
  for (let i = 0; i < 50; i++) w.batch('open', readerBatch(10, 40, i), 10, 0).commit();
  await w.close('done');
  const full = await replayAll(path);
  assert.equal(full.batches.length, 50);
  const size = statSync(path).size;
  truncateSync(path, Math.floor(size * 0.6));
  const cut = await replayAll(path);
  assert.ok(cut.batches.length > 0 && cut.batches.length < 50, `${cut.batches.length} batches`);
  // What is there is exact: the first batches, in order.
  for (let i = 0; i < cut.batches.length; i++) assert.deepEqual(cut.batches[i]!.raw, full.batches[i]!.raw);
  assert.match(cut.stopped ?? '', /^recording .*cut\.igrec: replay stopped at byte \d+ of \d+: chunk \d+ is cut short|truncated chunk header/);
  assert.equal(cut.stopped!.includes('\n'), false);
});

test('flipped bytes stop the replay at the damaged chunk (checksum), not later and not with an exception', async () => {
  const path = tmp('flip.igrec');
  const w = new RecordingWriter(path, { chunkBytes: 4096 });
  w.begin(image);
  for (let i = 0; i < 50; i++) w.batch('open', readerBatch(10, 40, i), 10, 0).commit();
  await w.close('done');
  const bytes = readFileSync(path);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(path, bytes);
  const r = await replayAll(path);
  assert.ok(r.batches.length > 0 && r.batches.length < 50);
  assert.match(r.stopped ?? '', /replay stopped at byte \d+ of \d+: (chunk \d+: checksum mismatch|no chunk header|chunk \d+ announces)/);
});

test('a recording whose writer never closed (killed) replays what was flushed and says it has no end mark', async () => {
  const path = tmp('killed.igrec');
  const w = new RecordingWriter(path, { flushMs: 20 });
  w.begin(image);
  w.batch('open', readerBatch(2, 16, 1), 2, 0).commit();
  await new Promise((r) => setTimeout(r, 150)); // the timer seals and writes the chunk
  const r = await replayAll(path);
  assert.equal(r.batches.length, 1);
  assert.match(r.stopped ?? '', /ends at byte \d+ without an end mark/);
  await w.close('done');
});

test('not a recording, a missing file and a future version are one-line errors', () => {
  const p = tmp('text.igrec');
  writeFileSync(p, 'hello world, this is not a recording');
  assert.throws(() => openRecording(p), (e: Error) => e instanceof RecordingError && /not an ig recording/.test(e.message));
  assert.throws(() => openRecording(p + '.none'), (e: Error) => e instanceof RecordingError && /no such file/.test(e.message));
  const v = tmp('v3.igrec');
  const w = Buffer.from('IGREC\r\n\x1a\x03\0\0\0\0\0\0\0', 'latin1');
  writeFileSync(v, w);
  assert.throws(() => openRecording(v), /format version 3, this ig reads versions 1 and 2/);
});

/** Every chunk header of a file: [codec, stored length, content length]. */
function chunkHeads(path: string): { version: number; chunks: [number, number, number][] } {
  const b = readFileSync(path);
  const chunks: [number, number, number][] = [];
  for (let o = 16; o + 24 <= b.length; o += 24 + b.readUInt32LE(o + 8)) chunks.push([b[o + 20]!, b.readUInt32LE(o + 8), b.readUInt32LE(o + 12)]);
  return { version: b[8]!, chunks };
}

test('format version 2: chunks are zstd (codec 3) by default, raw deflate or stored on request, and all read back', async () => {
  for (const [codec, name] of [[undefined, 3], [Codec.Deflate, 1], [Codec.None, 0]] as const) {
    const path = tmp(`codec-${name}.igrec`);
    const w = new RecordingWriter(path, codec === undefined ? {} : { codec });
    w.begin(image, 'v');
    for (let i = 0; i < 20; i++) w.batch('open', readerBatch(50, 300, i), 50, 0).commit();
    await w.close('done');
    const heads = chunkHeads(path);
    assert.equal(heads.version, 2);
    assert.ok(heads.chunks.length >= 2);
    assert.ok(heads.chunks.every(([c]) => c === name), `codecs ${heads.chunks.map((c) => c[0])}`);
    if (name !== 0) assert.ok(heads.chunks[1]![1] < heads.chunks[1]![2] / 5, 'compressed');
    const r = await replayAll(path);
    assert.equal(r.stopped, undefined);
    assert.equal(r.batches.length, 20);
    for (let i = 0; i < 20; i++) assert.deepEqual(r.batches[i]!.raw, readerBatch(50, 300, i).subarray(0, 50 * 312));
  }
});

test('zstd chunks: a version 1 file cannot claim codec 3, and a damaged zstd frame stops the replay in one line', async () => {
  const path = tmp('zstd-bad.igrec');
  const w = new RecordingWriter(path, { chunkBytes: 4096 });
  w.begin(image);
  for (let i = 0; i < 30; i++) w.batch('open', readerBatch(10, 40, i), 10, 0).commit();
  await w.close('done');
  const bytes = readFileSync(path);
  const v1 = Buffer.from(bytes);
  v1[8] = 1;
  writeFileSync(path, v1);
  const r1 = await replayAll(path).catch((e: Error) => e);
  // The first chunk (header and image) already claims codec 3: the file has nothing readable.
  assert.ok(r1 instanceof RecordingError && /unknown codec 3/.test(r1.message), String(r1));
  // A valid checksum over bytes that are no zstd frame (the checksum is of the stored bytes: recompute it).
  const heads = chunkHeads(path);
  let o = 16;
  for (let k = 0; k < 3; k++) o += 24 + heads.chunks[k]![1];
  const bad = Buffer.from(bytes);
  bad.fill(0x41, o + 24, o + 24 + heads.chunks[3]![1]);
  bad.writeUInt32LE(crc32(bad.subarray(o + 24, o + 24 + heads.chunks[3]![1])), o + 16);
  writeFileSync(path, bad);
  const r = await replayAll(path);
  assert.ok(r.batches.length > 0 && r.batches.length < 30);
  assert.match(r.stopped ?? '', /replay stopped at byte \d+ of \d+: chunk 3: cannot decompress \(zstd: [^\n]+\)$/);
});

test('rotation: FILE, FILE.1 …, each replays alone with the image and the facts known so far', async () => {
  const path = tmp('rot.igrec');
  const w = new RecordingWriter(path, { chunkBytes: 16 * 1024, maxFileBytes: 64 * 1024, maxFiles: 3 });
  const facts = HostFacts.record(w);
  w.begin(image);
  facts.ask('user', '0', () => 'root', '');
  // Incompressible records so that files fill.
  for (let i = 0; i < 80; i++) {
    const raw = Buffer.concat([Buffer.from([0, 16, 0, 0, 0, 0, 0, 0]), randomBytes(4096)]);
    w.batch('open', raw, 1, 0).commit();
    await new Promise((r) => setImmediate(r));
  }
  await w.close('done');
  assert.ok(existsSync(path) && existsSync(`${path}.1`) && existsSync(`${path}.2`));
  assert.equal(existsSync(`${path}.3`), false, 'at most 3 files');
  for (const f of [path, `${path}.1`, `${path}.2`]) {
    assert.ok(statSync(f).size <= 64 * 1024 + 32 * 1024, `${f}: ${statSync(f).size} bytes`);
    const rec = openRecording(f);
    assert.equal(rec.image.ebpf?.toString(), 'ELF-bytes');
    assert.equal(rec.facts.ask('user', '0', () => '', '?'), 'root');
    rec.close();
  }
  const newest = await replayAll(path);
  assert.equal(newest.stopped, undefined);
  assert.ok(newest.batches.length > 0);
  const info = recordingInfo(path);
  assert.ok(info.header.part > 0);
});

test('reader: entries of every chunk in order, end mark last', () => {
  const path = tmp('order.igrec');
  const w = new RecordingWriter(path, { chunkBytes: 1 });
  w.begin(image);
  w.batch('x', readerBatch(1, 8, 0), 1, 0).commit();
  return w.close('bye').then(() => {
    const r = new RecordingReader(path);
    const types = [...r.entries()].map((e) => e.type);
    r.close();
    assert.deepEqual(types, [EntryType.Header, EntryType.Blob, EntryType.Blob, EntryType.DataSource, EntryType.Batch, EntryType.End]);
    assert.equal(r.ended, true);
  });
});

test('a sink that holds (a paused consumer): the feed waits before its next entry, then goes on in order', async () => {
  const path = tmp('hold.igrec');
  const w = new RecordingWriter(path);
  w.begin(image, 'v9.9.9');
  for (let k = 0; k < 3; k++) w.batch('open', readerBatch(2, 16, k), 2, 0).commit();
  await w.close('done');
  const rec = openRecording(path);
  const got: number[] = [];
  let release: (() => void) | undefined;
  let held: Promise<void> | undefined;
  const done = rec.feed().run({
    batch: (_ds, raw) => {
      got.push(raw[8]!);
      // Paused after the first batch, as the library's queue pauses a data source.
      if (got.length === 1) held = new Promise<void>((r) => { release = () => { held = undefined; r(); }; });
    },
    lost: () => undefined,
    hold: () => held,
  }, new AbortController().signal);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(got, [0], 'nothing delivered while held');
  release!();
  await done;
  assert.deepEqual(got, [0, 1, 2]);
});
