// The recording file format, version 2 (docs/recording.md; version 1 files are read as well). A file is a 16-byte header and a sequence of chunks;
// a chunk is a 24-byte header and a compressed body of entries. Every chunk is complete on its own (compressed
// alone, with its own checksum), so a file cut anywhere replays up to its last whole chunk.
//
//   file header   0-7 magic "IGREC\r\n\x1a", 8 u8 version (2; 1 before zstd), 9-15 zero
//   chunk header  0-3 "CHNK", 4-7 u32 sequence, 8-11 u32 stored length, 12-15 u32 content length,
//                 16-19 u32 CRC-32 of the stored bytes, 20 u8 codec (0 none, 1 deflate-raw, 2 brotli, 3 zstd since
//                 version 2), 21-23 zero
//   entry         u8 type, u32 length, body (types below); integers little-endian
import { zlib } from '../runtime/lazy-builtins.js';
import { decodeFact, encodeFact } from '../gadget/host-facts.js';
import type { RecordedRows } from '../gadget/recording.js';
import { zstdCompress, zstdDecompress } from '../bpf/recorder.js';

/** Written by this ig. Version 2 added codec 3 (zstd); entries are the same as in version 1. */
export const FORMAT_VERSION = 2;
/** Read by this ig. */
export const READ_VERSIONS: readonly number[] = [1, 2];
export const FILE_MAGIC = Buffer.from('IGREC\r\n\x1a', 'latin1');
export const FILE_HEADER_BYTES = 16;
export const CHUNK_MAGIC = Buffer.from('CHNK', 'latin1');
export const CHUNK_HEADER_BYTES = 24;
/** Largest chunk body, stored or unpacked: a reader refuses more before allocating. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

export enum Codec { None = 0, Deflate = 1, Brotli = 2, Zstd = 3 }

export enum EntryType {
  /** JSON: the recording's header (format, ig version, start time, host, image reference and digest). */
  Header = 1,
  /** u32 JSON length, JSON {role: 'metadata' | 'layer', mediaType?, digest?}, then the bytes (gadget.yaml, a layer). */
  Blob = 2,
  /** JSON: the run's param values that were set (flags, config), by full key. */
  Params = 3,
  /** u16 id, then the data source's name (UTF-8): batches and lost counts name data sources by id. */
  DataSource = 4,
  /** f64 ms since the start, u16 data source id, u32 record count, u32 layout (0 reader layout, else record size), bytes. */
  Batch = 5,
  /** f64 ms, JSON [kind, key, value] (bigints as {"$bigint": "…"}): a host fact (host-facts.ts). */
  Fact = 6,
  /** f64 ms, u16 data source id, u32 count, cause (UTF-8): events the kernel side could not deliver. */
  Lost = 7,
  /** f64 ms, JSON {reason}: the run ended and the file is complete. */
  End = 8,
  /**
   * f64 ms, u16 data source id, JSON {fields, rows} (bigints as {"$bigint": "…"}): one batch that an operator
   * built in JS rather than read from the kernel (statistics operators: top_process, top_cpu_throttle, bpfstats).
   */
  Rows = 9,
}

export type { RecordedRows };

export interface RecordingHeader {
  format: number;
  ig: string;
  /** Wall-clock start, ms since the epoch. */
  startedAt: number;
  hostname: string;
  kernel: string;
  arch: string;
  image: { reference: string; digest: string; manifestDigest?: string; annotations: Record<string, string> };
  /** This file's place in a rotated recording: 0 for the first file. */
  part: number;
}

export type Entry =
  | { type: EntryType.Header; header: RecordingHeader }
  | { type: EntryType.Blob; role: 'metadata' | 'layer'; mediaType: string; digest: string; data: Buffer }
  | { type: EntryType.Params; params: Record<string, string> }
  | { type: EntryType.DataSource; id: number; name: string }
  | { type: EntryType.Batch; t: number; ds: number; count: number; layout: number; raw: Buffer }
  | { type: EntryType.Fact; t: number; kind: string; key: string; value: unknown }
  | { type: EntryType.Lost; t: number; ds: number; n: number; cause: string }
  | { type: EntryType.End; t: number; reason: string }
  | { type: EntryType.Rows; t: number; ds: number; table: RecordedRows };

export class RecordingError extends Error {}

export function fileHeader(): Buffer {
  const b = Buffer.alloc(FILE_HEADER_BYTES);
  FILE_MAGIC.copy(b, 0);
  b[8] = FORMAT_VERSION;
  return b;
}

/** Checks a file header; throws a RecordingError saying what the file is not. */
export function checkFileHeader(b: Buffer, path: string): void {
  if (b.length < FILE_HEADER_BYTES || !b.subarray(0, 8).equals(FILE_MAGIC)) throw new RecordingError(`${path}: not an ig recording (no IGREC header)`);
  if (!READ_VERSIONS.includes(b[8]!)) throw new RecordingError(`${path}: recording format version ${b[8]}, this ig reads versions ${READ_VERSIONS.join(' and ')}`);
}

// Entries -----------------------------------------------------------------------------------------------------

function entry(type: EntryType, body: Buffer): Buffer {
  const h = Buffer.allocUnsafe(5);
  h[0] = type;
  h.writeUInt32LE(body.length, 1);
  return Buffer.concat([h, body]);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');

export function headerEntry(h: RecordingHeader): Buffer { return entry(EntryType.Header, json(h)); }
export function paramsEntry(p: Record<string, string>): Buffer { return entry(EntryType.Params, json(p)); }
export function endEntry(t: number, reason: string): Buffer {
  const b = Buffer.allocUnsafe(8); b.writeDoubleLE(t, 0);
  return entry(EntryType.End, Buffer.concat([b, json({ reason })]));
}

export function blobEntry(role: 'metadata' | 'layer', mediaType: string, digest: string, data: Buffer): Buffer {
  const meta = json({ role, mediaType, digest });
  const n = Buffer.allocUnsafe(4); n.writeUInt32LE(meta.length, 0);
  return entry(EntryType.Blob, Buffer.concat([n, meta, data]));
}

export function dataSourceEntry(id: number, name: string): Buffer {
  const b = Buffer.allocUnsafe(2); b.writeUInt16LE(id, 0);
  return entry(EntryType.DataSource, Buffer.concat([b, Buffer.from(name, 'utf8')]));
}

/** The head of a batch entry (its records follow as they are: no copy into a combined buffer here). */
export function batchEntryHead(t: number, ds: number, count: number, layout: number, rawBytes: number): Buffer {
  const h = Buffer.allocUnsafe(5 + 18);
  h[0] = EntryType.Batch;
  h.writeUInt32LE(18 + rawBytes, 1);
  h.writeDoubleLE(t, 5);
  h.writeUInt16LE(ds, 13);
  h.writeUInt32LE(count, 15);
  h.writeUInt32LE(layout, 19);
  return h;
}

export function factEntry(t: number, kind: string, key: string, value: unknown): Buffer {
  const b = Buffer.allocUnsafe(8); b.writeDoubleLE(t, 0);
  return entry(EntryType.Fact, Buffer.concat([b, Buffer.from(encodeFact([kind, key, value]), 'utf8')]));
}

export function rowsEntry(t: number, ds: number, table: RecordedRows): Buffer {
  const b = Buffer.allocUnsafe(10); b.writeDoubleLE(t, 0); b.writeUInt16LE(ds, 8);
  return entry(EntryType.Rows, Buffer.concat([b, Buffer.from(encodeFact(table), 'utf8')]));
}

export function lostEntry(t: number, ds: number, n: number, cause: string): Buffer {
  const b = Buffer.allocUnsafe(14);
  b.writeDoubleLE(t, 0); b.writeUInt16LE(ds, 8); b.writeUInt32LE(Math.min(n, 0xffffffff), 10);
  return entry(EntryType.Lost, Buffer.concat([b, Buffer.from(cause, 'utf8')]));
}

/** What a malformed entry frame is (also for a native loop's findings). */
export const entryCut = (o: number) => `entry at byte ${o} of the chunk: truncated header`;
export const entryOverrun = (o: number, len: number, left: number) => `entry at byte ${o} of the chunk: ${len} bytes announced, ${left} left`;

/**
 * The entries of one chunk's content. A malformed entry throws a RecordingError naming its offset in the chunk.
 * Batch records are views into `content` (no copy).
 */
export function* parseEntries(content: Buffer): Generator<Entry> {
  let o = 0;
  while (o < content.length) {
    if (o + 5 > content.length) throw new RecordingError(entryCut(o));
    const type = content[o]!;
    const len = content.readUInt32LE(o + 1);
    const start = o + 5;
    if (len > content.length - start) throw new RecordingError(entryOverrun(o, len, content.length - start));
    const body = content.subarray(start, start + len);
    yield parseEntry(type, body, o);
    o = start + len;
  }
}

/** One entry from its type and body; `at`: its offset in the chunk, for the messages (a native loop framed it). */
export function parseEntry(type: number, body: Buffer, at: number): Entry {
  const need = (n: number, what: string) => { if (body.length < n) throw new RecordingError(`${what} entry at byte ${at} of the chunk: ${body.length} bytes, at least ${n} needed`); };
  const parseJson = (b: Buffer, what: string): unknown => {
    try { return JSON.parse(b.toString('utf8')); } catch { throw new RecordingError(`${what} entry at byte ${at} of the chunk: not JSON`); }
  };
  switch (type) {
    case EntryType.Header: return { type, header: parseJson(body, 'header') as RecordingHeader };
    case EntryType.Blob: {
      need(4, 'blob');
      const n = body.readUInt32LE(0);
      need(4 + n, 'blob');
      const m = parseJson(body.subarray(4, 4 + n), 'blob') as { role: 'metadata' | 'layer'; mediaType: string; digest: string };
      return { type, role: m.role, mediaType: m.mediaType, digest: m.digest, data: body.subarray(4 + n) };
    }
    case EntryType.Params: return { type, params: parseJson(body, 'params') as Record<string, string> };
    case EntryType.DataSource: need(2, 'data source'); return { type, id: body.readUInt16LE(0), name: body.toString('utf8', 2) };
    case EntryType.Batch:
      need(18, 'batch');
      return { type, t: body.readDoubleLE(0), ds: body.readUInt16LE(8), count: body.readUInt32LE(10), layout: body.readUInt32LE(14), raw: body.subarray(18) };
    case EntryType.Fact: {
      need(8, 'fact');
      let v: unknown;
      try { v = decodeFact(body.toString('utf8', 8)); } catch { throw new RecordingError(`fact entry at byte ${at} of the chunk: not JSON`); }
      if (!Array.isArray(v) || v.length !== 3) throw new RecordingError(`fact entry at byte ${at} of the chunk: not [kind, key, value]`);
      return { type, t: body.readDoubleLE(0), kind: String(v[0]), key: String(v[1]), value: v[2] };
    }
    case EntryType.Lost:
      need(14, 'lost');
      return { type, t: body.readDoubleLE(0), ds: body.readUInt16LE(8), n: body.readUInt32LE(10), cause: body.toString('utf8', 14) };
    case EntryType.Rows: {
      need(10, 'rows');
      let v: unknown;
      try { v = decodeFact(body.toString('utf8', 10)); } catch { throw new RecordingError(`rows entry at byte ${at} of the chunk: not JSON`); }
      const table = v as RecordedRows;
      if (!table || !Array.isArray(table.fields) || !Array.isArray(table.rows)) throw new RecordingError(`rows entry at byte ${at} of the chunk: not {fields, rows}`);
      return { type, t: body.readDoubleLE(0), ds: body.readUInt16LE(8), table };
    }
    case EntryType.End: need(8, 'end'); return { type, t: body.readDoubleLE(0), reason: String((parseJson(body.subarray(8), 'end') as { reason?: string }).reason ?? '') };
    default: throw new RecordingError(`entry at byte ${at} of the chunk: unknown type ${type}`);
  }
}

// Chunks ------------------------------------------------------------------------------------------------------

export function compress(codec: Codec, content: Buffer): Buffer {
  if (codec === Codec.Deflate) return zlib().deflateRawSync(content, { level: 1 });
  if (codec === Codec.Brotli) return zlib().brotliCompressSync(content, { params: { [zlib().constants.BROTLI_PARAM_QUALITY]: 1, [zlib().constants.BROTLI_PARAM_SIZE_HINT]: content.length } });
  if (codec === Codec.Zstd) return zstdCompress(content, 1);
  return content;
}

export function chunkHeader(seq: number, codec: Codec, stored: Buffer, contentLength: number): Buffer {
  const h = Buffer.alloc(CHUNK_HEADER_BYTES);
  CHUNK_MAGIC.copy(h, 0);
  h.writeUInt32LE(seq >>> 0, 4);
  h.writeUInt32LE(stored.length, 8);
  h.writeUInt32LE(contentLength, 12);
  h.writeUInt32LE(zlib().crc32(stored), 16);
  h[20] = codec;
  return h;
}

export interface ChunkHead { seq: number; stored: number; content: number; crc: number; codec: Codec }

/** A chunk header's fields; throws a RecordingError when it is none. `version`: the file's format version. */
export function parseChunkHeader(h: Buffer, version = FORMAT_VERSION): ChunkHead {
  if (!h.subarray(0, 4).equals(CHUNK_MAGIC)) throw new RecordingError('no chunk header (bad magic)');
  const head = { seq: h.readUInt32LE(4), stored: h.readUInt32LE(8), content: h.readUInt32LE(12), crc: h.readUInt32LE(16), codec: h[20] as Codec };
  if (head.stored > MAX_CHUNK_BYTES || head.content > MAX_CHUNK_BYTES) throw new RecordingError(`chunk ${head.seq} announces ${Math.max(head.stored, head.content)} bytes, more than the ${MAX_CHUNK_BYTES} limit`);
  if (![Codec.None, Codec.Deflate, Codec.Brotli, ...(version >= 2 ? [Codec.Zstd] : [])].includes(head.codec)) throw new RecordingError(`chunk ${head.seq}: unknown codec ${head.codec}`);
  return head;
}

/** The content of a chunk from its stored bytes (checksum, decompression and length checked). */
export function chunkContent(head: ChunkHead, stored: Buffer): Buffer {
  if (zlib().crc32(stored) !== head.crc) throw new RecordingError(`chunk ${head.seq}: checksum mismatch (damaged bytes)`);
  let out: Buffer;
  try {
    out = head.codec === Codec.Zstd ? zstdDecompress(stored, head.content)
      : head.codec === Codec.Deflate ? zlib().inflateRawSync(stored, { maxOutputLength: MAX_CHUNK_BYTES })
      : head.codec === Codec.Brotli ? zlib().brotliDecompressSync(stored, { maxOutputLength: MAX_CHUNK_BYTES }) : stored;
  } catch (e) {
    throw new RecordingError(`chunk ${head.seq}: cannot decompress (${(e as Error).message})`);
  }
  if (out.length !== head.content) throw new RecordingError(`chunk ${head.seq}: ${out.length} bytes after decompression, ${head.content} announced`);
  return out;
}
