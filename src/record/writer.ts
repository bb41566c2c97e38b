// Writes a recording (format.ts): the run's raw batches, host facts and lost counts as they come. The chunk loop
// is native (native/src/record_writer.c): entries are copied into the current chunk, which is sealed every second
// (a crash loses at most the last second) or at 4 MiB, then compressed (zstd) and written on the recorder's own
// thread. An eBPF reader with nothing else to feed hands its batches to the recorder on its own thread
// (`nativeTarget`: no JS per batch); JS encodes everything else here (header, image, params, data source table,
// host facts, lost counts, batches it emitted itself, the end mark). While chunks wait to be written (64 MiB), the
// appenders wait: a reader's ring then fills and the kernel side counts what it drops, instead of memory growing.
//
// Size cap: a file that would grow past maxFileBytes is closed and renamed FILE.1 (FILE.1 → FILE.2 …, at most
// maxFiles files in all); the new FILE starts with everything needed to replay it alone: the header, the image,
// the params, the data source table and the host facts known as of its first chunk (the entries appended with a
// state key).
import { hostname, release, arch } from 'node:os';
import { NativeRecorder } from '../bpf/recorder.js';
import { readerBatchBytes, type NativeRecordTarget, type PendingBatch, type RecordSink } from '../gadget/recording.js';
import type { FactLog } from '../gadget/host-facts.js';
import {
  Codec, FORMAT_VERSION, batchEntryHead, blobEntry, dataSourceEntry, endEntry, factEntry, lostEntry, paramsEntry, rowsEntry, type RecordedRows,
  RecordingError, type RecordingHeader,
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

const MIN_FILE_BYTES = 64 * 1024;
/** How often a failed write (disk full …) is looked for. */
const ERROR_POLL_MS = 250;

export class RecordingWriter implements RecordSink, FactLog {
  private readonly h: NativeRecorder;
  /** Entries appended before begin() (facts asked while the operators were set up): they follow the image. */
  private pre: [Buffer, string | null][] | null = [];
  private readonly dsIds = new Map<string, number>();
  private header?: RecordingHeader;
  private readonly timer: NodeJS.Timeout;
  private failed?: Error;
  private closed = false;
  private final?: { batches: number; records: number; files: number };
  private readonly onError?: (e: Error) => void;
  private readonly js = { batches: 0, records: 0, lost: 0, facts: 0 };

  constructor(readonly path: string, opts: WriterOptions = {}) {
    const o = { maxFileBytes: 0, maxFiles: 5, codec: Codec.Zstd, flushMs: 1000, chunkBytes: 4 << 20, ...opts };
    if (o.maxFileBytes > 0 && o.maxFileBytes < MIN_FILE_BYTES) throw new RecordingError(`recording ${path}: the largest file size must be at least ${MIN_FILE_BYTES} bytes`);
    if (o.codec === Codec.Brotli) throw new RecordingError(`recording ${path}: the writer compresses with zstd, raw deflate or nothing`);
    this.onError = opts.onError;
    try {
      this.h = new NativeRecorder(path, { codec: o.codec, chunkBytes: o.chunkBytes, flushMs: o.flushMs, maxFileBytes: o.maxFileBytes, maxFiles: o.maxFiles });
    } catch (e) {
      // The native message says it: "cannot create recording FILE: <reason>".
      throw new RecordingError((e as Error).message);
    }
    this.timer = setInterval(() => this.checkError(), ERROR_POLL_MS);
    this.timer.unref();
  }

  /** Counts for the summary at the end (batches and records include those a reader appended natively). */
  get stats(): { batches: number; records: number; lost: number; facts: number; files: number } {
    const n = this.final ?? this.h.stats();
    return { batches: this.js.batches + n.batches, records: this.js.records + n.records, lost: this.js.lost, facts: this.js.facts, files: n.files };
  }

  private now(): number { return this.h.now(); }

  private checkError(): void {
    if (this.failed || this.closed) return;
    const st = this.h.stats();
    if (st.error) this.fail(new Error(`write failed: ${st.error}`));
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = new RecordingError(`recording ${this.path}: ${e.message}`);
    this.onError?.(this.failed);
  }

  /** The recording's header and image: the first entries of the file, in a chunk of their own. */
  begin(image: RecordedImage, igVersion = '', startedAt = Date.now()): void {
    if (this.header || this.closed) return;
    this.header = {
      format: FORMAT_VERSION, ig: igVersion, startedAt, hostname: hostname(), kernel: release(), arch: arch(),
      image: { reference: image.reference, digest: image.digest, manifestDigest: image.manifestDigest, annotations: image.annotations }, part: 0,
    };
    // The header's JSON up to its part number, which the native side writes (0 here, the file's number after a rotation).
    const { part: _part, ...rest } = this.header;
    const json = JSON.stringify(rest);
    this.h.begin(`${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"part":`);
    let n = 0;
    if (image.metadata) this.append(blobEntry('metadata', '', '', image.metadata), null, `blob:${n++}`);
    for (const l of image.layers) this.append(blobEntry('layer', l.mediaType, l.digest, l.data), null, `blob:${n++}`);
    // The image in a chunk of its own: damage anywhere later still leaves a file that says what it recorded.
    this.h.seal();
    const pre = this.pre ?? [];
    this.pre = null;
    for (const [b, key] of pre) this.append(b, null, key);
  }

  private append(head: Buffer, body: Buffer | null, key: string | null): void {
    if (this.closed || this.failed) return;
    if (this.pre) { this.pre.push([body ? Buffer.concat([head, body]) : head, key]); return; }
    if (!this.h.append(head, body, key)) this.checkError();
  }

  /** The run's params (full key → value) as they were set. */
  params(values: Record<string, string>): void {
    this.append(paramsEntry(values), null, 'params');
  }

  private dsId(name: string): number {
    let id = this.dsIds.get(name);
    if (id === undefined) {
      id = this.dsIds.size;
      this.dsIds.set(name, id);
      this.append(dataSourceEntry(id, name), null, `ds:${id}`);
    }
    return id;
  }

  /** Where a reader hands `ds`'s batches on its own thread (reader option `record`); undefined before begin(). */
  nativeTarget(ds: string): NativeRecordTarget | undefined {
    if (this.closed || this.failed || this.pre) return undefined;
    return { recorder: this.h.handle, ds: this.dsId(ds) };
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
        this.append(batchEntryHead(t, id, count, layout, copy.length), copy, null);
        this.js.batches++;
        this.js.records += count;
      },
    };
  }

  lost(ds: string, n: number, cause: string): void {
    if (this.closed || this.failed) return;
    this.append(lostEntry(this.now(), this.dsId(ds), n, cause), null, null);
    this.js.lost += n;
  }

  /** A batch an operator built in JS (statistics operators), as values. */
  rows(ds: string, table: RecordedRows): void {
    if (this.closed || this.failed) return;
    this.append(rowsEntry(this.now(), this.dsId(ds), table), null, null);
    this.js.batches++;
    this.js.records += table.rows.length;
  }

  fact(kind: string, key: string, value: unknown): void {
    if (this.closed || this.failed) return;
    this.append(factEntry(this.now(), kind, key, value), null, `fact:${kind}\0${key}`);
    this.js.facts++;
  }

  /** Ends the recording: an end mark, the last chunk, then the file is synced and closed. */
  async close(reason: string): Promise<void> {
    if (this.closed) return;
    if (!this.header) this.begin({ reference: '', digest: '', annotations: {}, metadata: null, layers: [] });
    this.append(endEntry(this.now(), reason), null, null);
    this.closed = true;
    clearInterval(this.timer);
    const st = this.h.close();
    this.final = st;
    if (st.error && !this.failed) this.fail(new Error(`write failed: ${st.error}`));
    if (this.failed) throw this.failed;
  }
}
