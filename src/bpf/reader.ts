// Ring buffer and perf buffer readers. Each runs a native poll thread; batches of records reach
// the callback on the JS thread as zero-copy Buffers laid out as
//   [u32 len][u32 cpu (perf) or 0 (ring)][payload padded to 8] ...
import { native } from './native.js';
import type { BatchCallback, ReaderHandle, ReaderOptions, ReaderStats } from './native-api.js';

export type { BatchCallback, ReaderOptions, ReaderStats } from './native-api.js';

/** Record header size in a batch. */
export const RECORD_HEADER_BYTES = 8;

/**
 * Walk the records of a batch: fn(offset of the payload in buf, payload length, cpu).
 * Allocation-free; read the payload with buf.readUInt32LE(offset + x) etc.
 */
export function forEachRecord(
  buf: Buffer,
  count: number,
  fn: (offset: number, length: number, cpu: number) => void,
): void {
  let off = 0;
  for (let i = 0; i < count && off + RECORD_HEADER_BYTES <= buf.length; i++) {
    const len = buf.readUInt32LE(off);
    const cpu = buf.readUInt32LE(off + 4);
    fn(off + RECORD_HEADER_BYTES, len, cpu);
    off += RECORD_HEADER_BYTES + ((len + 7) & ~7);
  }
}

abstract class Reader {
  #handle: ReaderHandle | null = null;
  #final: ReaderStats | null = null;
  #onStop: ((r: Reader) => void) | undefined;

  protected constructor(readonly mapFd: number, protected readonly cb: BatchCallback, protected readonly opts: ReaderOptions) {}

  protected abstract open(): ReaderHandle;

  /** Internal: let an owner (BpfObject) forget the reader once stopped. */
  set onStop(fn: ((r: Reader) => void) | undefined) {
    this.#onStop = fn;
  }

  get running(): boolean {
    return this.#handle !== null;
  }

  /** Start the poll thread. Throws if already started or stopped. */
  start(): this {
    if (this.#handle) throw new Error('reader already running');
    if (this.#final) throw new Error('reader was stopped; create a new one');
    this.#handle = this.open();
    return this;
  }

  stats(): ReaderStats {
    if (this.#handle) return native.readerStats(this.#handle);
    return this.#final ?? { records: 0, batches: 0, lost: 0 };
  }

  /**
   * Stop the thread and deliver every pending batch to the callback before returning. Idempotent:
   * later calls return the final stats.
   */
  stop(): ReaderStats {
    const h = this.#handle;
    if (!h) return this.#final ?? { records: 0, batches: 0, lost: 0 };
    this.#handle = null;
    try {
      this.#final = native.readerStop(h);
    } catch (err) {
      this.#final = native.readerStats(h);
      throw err;
    } finally {
      const cb = this.#onStop;
      this.#onStop = undefined;
      cb?.(this);
    }
    return this.#final;
  }
}

/** Reader for a BPF_MAP_TYPE_RINGBUF map. */
export class RingReader extends Reader {
  constructor(mapFd: number, cb: BatchCallback, opts: ReaderOptions = {}) {
    super(mapFd, cb, opts);
  }

  protected open(): ReaderHandle {
    return native.ringOpen(this.mapFd, this.cb, this.opts);
  }
}

export interface PerfReaderOptions extends ReaderOptions {
  /** Pages per CPU buffer (power of two); default 64. */
  pageCount?: number;
}

/** Reader for a BPF_MAP_TYPE_PERF_EVENT_ARRAY map; the kernel's lost-sample reports are counted in stats().lost. */
export class PerfReader extends Reader {
  readonly pageCount: number;

  constructor(mapFd: number, cb: BatchCallback, opts: PerfReaderOptions = {}) {
    const { pageCount, ...rest } = opts;
    super(mapFd, cb, rest);
    this.pageCount = pageCount ?? 64;
  }

  protected open(): ReaderHandle {
    return native.perfOpen(this.mapFd, this.pageCount, this.cb, this.opts);
  }
}

export type AnyReader = RingReader | PerfReader;
