// The native recorder (native/src/record_writer.c): a thread of its own that seals, compresses and writes a
// recording's chunks, and that readers in record mode hand their batches to without JS. Its handle is owned here,
// like every other native object, so src/record speaks to a typed owner rather than to the addon.
import { native } from './native.js';
import type { RecorderHandle, RecorderOptions, RecorderStats } from './native-api.js';

export type { RecorderOptions, RecorderStats } from './native-api.js';

export class NativeRecorder {
  /** What a reader's `record` option takes. */
  readonly handle: RecorderHandle;

  /** Creates (or truncates) the file; throws "cannot create recording FILE: <reason>". */
  constructor(path: string, opts: RecorderOptions) { this.handle = native.recorderOpen(path, opts); }
  /** The header's JSON up to its `"part":` member (the recorder numbers rotated files itself). */
  begin(headerJsonPrefix: string): void { native.recorderBegin(this.handle, headerJsonPrefix); }
  /** False once a write has failed (stats() says why). A `key` makes the entry repeat at the start of rotated files. */
  append(head: Buffer, body: Buffer | null, key: string | null): boolean { return native.recorderAppend(this.handle, head, body, key); }
  seal(): void { native.recorderSeal(this.handle); }
  /** The recorder's clock, the one its entries are stamped with. */
  now(): number { return native.recorderNow(this.handle); }
  stats(): RecorderStats { return native.recorderStats(this.handle); }
  close(): RecorderStats { return native.recorderClose(this.handle); }
}

/** One chunk's content, zstd at `level` (native/src/record_codec.c). */
export function zstdCompress(content: Buffer, level: number): Buffer { return native.zstdCompress(content, level); }
/** A zstd chunk back to its `contentLength` bytes; throws on a damaged frame. */
export function zstdDecompress(stored: Buffer, contentLength: number): Buffer { return native.zstdDecompress(stored, contentLength); }
