// Writes a recording (format.ts): the run's raw batches, host facts and lost counts as they come, in chunks
// compressed on libuv's thread pool and written in order. A chunk is sealed every second (so a crash loses at
// most the last second) or when it holds 4 MiB. JS touches each batch once (one copy of its bytes), never its
// records. When chunks pile up faster than they compress (more than 64 MiB waiting) the next ones are compressed
// on the JS thread: the readers then wait, the ring fills and the kernel side counts what it drops, instead of
// memory growing.
//
// Size cap: a file that would grow past maxFileBytes is closed and renamed FILE.1 (FILE.1 → FILE.2 …, at most
// maxFiles files in all); the new FILE starts with everything needed to replay it alone: the header, the image,
// the params, the data source table and the host facts known so far.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname, release, arch } from 'node:os';
import { brotliCompress, constants as zc, deflateRaw } from 'node:zlib';
import { readerBatchBytes, type PendingBatch, type RecordSink } from '../gadget/recording.js';
import type { FactLog } from '../gadget/host-facts.js';
import {
  Codec, FORMAT_VERSION, batchEntryHead, blobEntry, chunkHeader, compress, dataSourceEntry, endEntry, factEntry,
  fileHeader, headerEntry, lostEntry, paramsEntry, RecordingError, type RecordingHeader,
} from './format.js';

export interface WriterOptions {
  /** Largest file before it is rotated (bytes); 0: no limit. */
  maxFileBytes?: number;
  /** Files kept in all (FILE, FILE.1, …); the oldest is removed. */
  maxFiles?: number;
  codec?: Codec;
  /** A chunk is sealed at most this long after its first entry. */
  flushMs?: number;
  /** … or once it holds this much. */
  chunkBytes?: number;
  /** A write failed (disk full, …): the recording stops; the run should end with this error. */
  onError?: (e: Error) => void;
}

/** The image a recording carries so that it replays without any store or registry. */
export interface RecordedImage {
  reference: string;
  digest: string;
  manifestDigest?: string;
  annotations: Record<string, string>;
  metadata: Buffer | null;
  layers: { mediaType: string; digest: string; data: Buffer }[];
}

const BACKLOG_BYTES = 64 * 1024 * 1024;
const MIN_FILE_BYTES = 64 * 1024;

export class RecordingWriter implements RecordSink, FactLog {
  private fd: number;
  private fileBytes = 0;
  private part = 0;
  private seq = 0;
  private dataChunks = 0;
  private entries: Buffer[] = [];
  private entryBytes = 0;
  private facts: [string, string, unknown][] = [];
  private firstAt = -1;
  /** Chunks are written in order through this chain. */
  private chain: Promise<void> = Promise.resolve();
  private backlog = 0;
  private readonly dsIds = new Map<string, number>();
  /** The facts as of the last chunk written (a rotated file starts with them). */
  private readonly written = new Map<string, [string, string, unknown]>();
  private header?: RecordingHeader;
  private blobs: Buffer[] = [];
  private paramsEntryBuf?: Buffer;
  private readonly t0 = performance.now();
  private readonly timer: NodeJS.Timeout;
  private failed?: Error;
  private closed = false;
  private readonly o: Required<Omit<WriterOptions, 'onError'>> & Pick<WriterOptions, 'onError'>;
  /** Counts for the summary at the end. */
  readonly stats = { batches: 0, records: 0, lost: 0, facts: 0, files: 1 };

  constructor(readonly path: string, opts: WriterOptions = {}) {
    this.o = { maxFileBytes: 0, maxFiles: 5, codec: Codec.Deflate, flushMs: 1000, chunkBytes: 4 << 20, ...opts };
    if (this.o.maxFileBytes > 0 && this.o.maxFileBytes < MIN_FILE_BYTES) throw new RecordingError(`recording ${path}: the largest file size must be at least ${MIN_FILE_BYTES} bytes`);
    this.fd = this.openFile();
    const tick = Math.max(10, Math.min(250, this.o.flushMs / 4));
    this.timer = setInterval(() => {
      if (this.firstAt >= 0 && performance.now() - this.firstAt >= this.o.flushMs) this.seal();
    }, tick);
    this.timer.unref();
  }

  private openFile(): number {
    let fd: number;
    try { fd = openSync(this.path, 'w', 0o600); } catch (e) { throw new RecordingError(`cannot create recording ${this.path}: ${(e as Error).message}`); }
    const h = fileHeader();
    writeSync(fd, h);
    this.fileBytes = h.length;
    return fd;
  }

  private now(): number { return performance.now() - this.t0; }

  /** The recording's header and image: the first entries of the file. */
  begin(image: RecordedImage, igVersion = '', startedAt = Date.now()): void {
    this.header = {
      format: FORMAT_VERSION, ig: igVersion, startedAt, hostname: hostname(), kernel: release(), arch: arch(),
      image: { reference: image.reference, digest: image.digest, manifestDigest: image.manifestDigest, annotations: image.annotations }, part: 0,
    };
    this.blobs = [];
    if (image.metadata) this.blobs.push(blobEntry('metadata', '', '', image.metadata));
    for (const l of image.layers) this.blobs.push(blobEntry('layer', l.mediaType, l.digest, l.data));
    // Whatever came before (facts asked while the operators were set up) follows the image.
    const head = [headerEntry(this.header), ...this.blobs];
    this.entries.unshift(...head);
    for (const b of head) this.entryBytes += b.length;
    // The image in a chunk of its own: damage anywhere later still leaves a file that says what it recorded.
    this.seal();
  }

  /** The run's params (full key → value) as they were set. */
  params(values: Record<string, string>): void {
    this.paramsEntryBuf = paramsEntry(values);
    this.push(this.paramsEntryBuf);
  }

  private dsId(name: string): number {
    let id = this.dsIds.get(name);
    if (id === undefined) {
      id = this.dsIds.size;
      this.dsIds.set(name, id);
      this.push(dataSourceEntry(id, name));
    }
    return id;
  }

  batch(ds: string, raw: Buffer, count: number, layout: number): PendingBatch {
    if (this.closed || this.failed) return { commit: () => undefined };
    const t = this.now();
    const bytes = layout === 0 ? readerBatchBytes(raw, count) : Math.min(raw.length, layout * count);
    const copy = Buffer.from(raw.subarray(0, bytes));
    return {
      commit: () => {
        if (this.closed || this.failed) return;
        const id = this.dsId(ds);
        this.push(batchEntryHead(t, id, count, layout, copy.length), copy);
        this.stats.batches++;
        this.stats.records += count;
      },
    };
  }

  lost(ds: string, n: number, cause: string): void {
    if (this.closed || this.failed) return;
    this.push(lostEntry(this.now(), this.dsId(ds), n, cause));
    this.stats.lost += n;
  }

  fact(kind: string, key: string, value: unknown): void {
    if (this.closed || this.failed) return;
    this.push(factEntry(this.now(), kind, key, value));
    this.facts.push([kind, key, value]);
    this.stats.facts++;
  }

  private push(...bufs: Buffer[]): void {
    for (const b of bufs) { this.entries.push(b); this.entryBytes += b.length; }
    if (this.firstAt < 0) this.firstAt = performance.now();
    if (this.entryBytes >= this.o.chunkBytes) this.seal();
  }

  /** Close the current chunk: compress it (thread pool, or here when the backlog is large) and queue its write. */
  private seal(): void {
    if (this.entries.length === 0 || !this.header) return;
    const content = Buffer.concat(this.entries, this.entryBytes);
    const facts = this.facts;
    this.entries = [];
    this.entryBytes = 0;
    this.facts = [];
    this.firstAt = -1;
    const seq = this.seq++;
    const codec = this.o.codec;
    let stored: Promise<Buffer>;
    if (this.backlog > BACKLOG_BYTES || codec === Codec.None) {
      stored = Promise.resolve(compress(codec, content));
    } else {
      this.backlog += content.length;
      stored = new Promise<Buffer>((resolve, reject) => {
        const done = (e: Error | null, out: Buffer) => { this.backlog -= content.length; if (e) reject(e); else resolve(out); };
        if (codec === Codec.Brotli) brotliCompress(content, { params: { [zc.BROTLI_PARAM_QUALITY]: 1 } }, done);
        else deflateRaw(content, { level: 1 }, done);
      });
    }
    this.chain = this.chain.then(async () => {
      const s = await stored;
      if (this.failed) return;
      this.writeChunk(seq, codec, s, content.length, facts);
    }).catch((e: Error) => this.fail(e));
  }

  private writeChunk(seq: number, codec: Codec, stored: Buffer, contentLength: number, facts: [string, string, unknown][]): void {
    const size = stored.length + 24;
    if (this.o.maxFileBytes > 0 && this.dataChunks > 0 && this.fileBytes + size > this.o.maxFileBytes) this.rotate();
    const h = chunkHeader(seq, codec, stored, contentLength);
    writeAll(this.fd, h);
    writeAll(this.fd, stored);
    this.fileBytes += size;
    this.dataChunks++;
    for (const f of facts) this.written.set(`${f[0]}\0${f[1]}`, f);
  }

  /** FILE → FILE.1 (and older ones one further); a new FILE that replays on its own. */
  private rotate(): void {
    closeSync(this.fd);
    const name = (i: number) => (i === 0 ? this.path : `${this.path}.${i}`);
    const keep = Math.max(1, this.o.maxFiles);
    if (existsSync(name(keep - 1)) && keep > 1) rmSync(name(keep - 1), { force: true });
    for (let i = keep - 2; i >= 0; i--) if (existsSync(name(i))) renameSync(name(i), name(i + 1));
    if (keep === 1) rmSync(this.path, { force: true });
    this.fd = this.openFile();
    this.part++;
    this.stats.files++;
    this.dataChunks = 0;
    const t = this.now();
    const pre: Buffer[] = [headerEntry({ ...this.header!, part: this.part }), ...this.blobs];
    if (this.paramsEntryBuf) pre.push(this.paramsEntryBuf);
    for (const [name2, id] of this.dsIds) pre.push(dataSourceEntry(id, name2));
    for (const [kind, key, value] of this.written.values()) pre.push(factEntry(t, kind, key, value));
    const content = Buffer.concat(pre);
    const stored = compress(this.o.codec, content);
    const h = chunkHeader(this.seq++, this.o.codec, stored, content.length);
    writeAll(this.fd, h);
    writeAll(this.fd, stored);
    this.fileBytes += h.length + stored.length;
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = new RecordingError(`recording ${this.path}: ${e.message}`);
    this.o.onError?.(this.failed);
  }

  /** Ends the recording: an end mark, the last chunk, then the file is synced and closed. */
  async close(reason: string): Promise<void> {
    if (this.closed) return;
    if (!this.header) this.begin({ reference: '', digest: '', annotations: {}, metadata: null, layers: [] });
    this.push(endEntry(this.now(), reason));
    this.seal();
    this.closed = true;
    clearInterval(this.timer);
    await this.chain;
    try { fsyncSync(this.fd); } catch { /* a pipe or a file system without fsync: the bytes are written anyway */ }
    closeSync(this.fd);
    if (this.failed) throw this.failed;
  }
}

function writeAll(fd: number, b: Buffer): void {
  let o = 0;
  while (o < b.length) o += writeSync(fd, b, o, b.length - o);
}
