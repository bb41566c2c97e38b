// Reads a recording (format.ts) chunk by chunk. Damage (a cut file, flipped bytes, a chunk that does not
// decompress) ends the entries where it starts; `stopped` then says where, in one line. Entries of the chunks
// before it are all delivered.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import {
  CHUNK_HEADER_BYTES, FILE_HEADER_BYTES, EntryType, RecordingError, checkFileHeader, chunkContent, parseChunkHeader,
  parseEntries, type Entry,
} from './format.js';

export class RecordingReader {
  private fd: number;
  private readonly size: number;
  private pos = FILE_HEADER_BYTES;
  /** Why and where reading stopped before the file's end mark (damage, a file cut short); undefined otherwise. */
  stopped?: string;
  /** The end mark was read: the recording run finished and closed the file. */
  ended = false;
  chunks = 0;
  /** The file's format version. */
  version = 0;
  /** Set: entries() returns at the next chunk boundary, so that a native loop reads on from `position`. */
  pauseAtChunk = false;

  /** Opens and checks the file header; a missing or foreign file is a RecordingError. */
  constructor(readonly path: string) {
    try { this.fd = openSync(path, 'r'); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new RecordingError(code === 'ENOENT' ? `recording ${path}: no such file` : `recording ${path}: ${(e as Error).message}`);
    }
    this.size = fstatSync(this.fd).size;
    const h = Buffer.alloc(FILE_HEADER_BYTES);
    const n = readSync(this.fd, h, 0, h.length, 0);
    try {
      checkFileHeader(h.subarray(0, n), `recording ${path}`);
      this.version = h[8]!;
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  get fileSize(): number { return this.size; }
  /** The next chunk's byte offset. */
  get position(): number { return this.pos; }
  /** The open file (for a native loop, which dups it). */
  get descriptor(): number { return this.fd; }

  /** Go on from `at`, a chunk boundary up to which a native loop read (`chunks` chunks so far). */
  resumeAt(at: number, chunks: number): void {
    this.pos = at;
    this.chunks = chunks;
    this.pauseAtChunk = false;
  }

  /** An entry of the chunk at `chunkAt` (the `index`-th, from 0) is malformed: stop there, in this reader's words. */
  damaged(chunkAt: number, index: number, message: string): void { this.stop(chunkAt, `chunk ${index}: ${message}`); }

  private read(n: number, at: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, b, got, n - got, at + got);
      if (r === 0) break;
      got += r;
    }
    return got === n ? b : b.subarray(0, got);
  }

  private stop(at: number, reason: string): void {
    this.stopped = `recording ${this.path}: replay stopped at byte ${at} of ${this.size}: ${reason}`;
  }

  /** Every entry in file order, until the end mark, the end of the file or damage. */
  *entries(): Generator<Entry> {
    while (!this.ended && !this.pauseAtChunk) {
      const at = this.pos;
      if (at >= this.size) {
        this.stopped = `recording ${this.path}: ends at byte ${at} without an end mark (the recording run did not finish); replayed what was written`;
        return;
      }
      const hb = this.read(CHUNK_HEADER_BYTES, at);
      if (hb.length < CHUNK_HEADER_BYTES) { this.stop(at, `truncated chunk header (${hb.length} of ${CHUNK_HEADER_BYTES} bytes)`); return; }
      let content: Buffer;
      try {
        const head = parseChunkHeader(hb, this.version);
        const stored = this.read(head.stored, at + CHUNK_HEADER_BYTES);
        if (stored.length < head.stored) { this.stop(at, `chunk ${head.seq} is cut short (${stored.length} of ${head.stored} bytes)`); return; }
        content = chunkContent(head, stored);
        this.pos = at + CHUNK_HEADER_BYTES + head.stored;
      } catch (e) {
        if (!(e instanceof RecordingError)) throw e;
        this.stop(at, e.message);
        return;
      }
      this.chunks++;
      try {
        for (const e of parseEntries(content)) {
          yield e;
          if (e.type === EntryType.End) { this.ended = true; return; }
        }
      } catch (e) {
        if (!(e instanceof RecordingError)) throw e;
        this.stop(at, `chunk ${this.chunks - 1}: ${e.message}`);
        return;
      }
    }
  }

  /** Idempotent: a second close must not close a descriptor number the process has reused since. */
  close(): void {
    if (this.fd < 0) return;
    try { closeSync(this.fd); } catch { /* already closed: nothing left to release */ }
    this.fd = -1;
  }
}
