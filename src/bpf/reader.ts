// Ring buffer and perf buffer readers. Each runs a native poll thread; batches of records reach
// the callback on the JS thread as zero-copy Buffers laid out as
//   [u32 len][u32 cpu (perf) or 0 (ring)][payload padded to 8] ...
import { native } from './native.js';
import { everySecond } from '../runtime/second-tick.js';
import type { BatchCallback, PerfDrainHandle, ReaderHandle, ReaderOptions as NativeReaderOptions, ReaderStats } from './native-api.js';
import type { RenderPlan } from './render-plan.js';
import type { AggregateConsumer } from './metrics-aggregator.js';
import type { BpfMap } from './map.js';
import type { WireBatchWriter } from './wire-batch.js';

export type { BatchCallback, BatchKind, ReaderStats } from './native-api.js';
export { BATCH_REFRESH, BATCH_FRAME, BATCH_MEMO } from './native-api.js';

/** Where a rendering reader's JS-rendered lines go: through the reader, in order with the thread's own. */
export interface ReaderOutput {
  write(bytes: Buffer): void;
}

/**
 * A consumer that renders records on the reader's poll thread with a plan (render mode). The consumer decides the
 * output policy: which fd, how long the thread lingers, what a failed write means. Records the plan cannot render
 * (memo misses) still reach the reader's callback, which hands them to JS and writes their lines through the
 * ReaderOutput given to `attached`.
 */
export interface RenderConsumer {
  readonly plan: RenderPlan;
  readonly outFd: number;
  readonly lingerUs?: number;
  /** Under a steady stream the linger grows up to this (lines that much later, wake-ups that much fewer). */
  readonly lingerMaxUs?: number;
  readonly maxLatencyMs?: number;
  /** Written to outFd before the first line (e.g. a header), so that no line can come before it. */
  readonly preamble?: Buffer;
  /**
   * Records that miss a memo reach the reader's callback as BATCH_MEMO batches, whose memos the consumer fills;
   * the poll thread then renders them itself, in place (the line order is kept). Without it they are rendered by JS.
   */
  readonly memoRequests?: boolean;
  /** The reader renders with the plan from now on. */
  attached(out: ReaderOutput): void;
  /** The output fd failed (e.g. EPIPE when the pipe's reader went away); the reader discards output from then on. */
  outputFailed(errno: number, message: string): void;
}

/**
 * A consumer of batch frames written on the reader's poll thread (wire mode: the gRPC daemon's forwarder). Its
 * writer's memos give the values; `clock` lists the fixes made to each record first: boot-clock members rewritten
 * to wall clock, C string arrays cleared after their NUL (src/service/native-wire.ts recordFixes).
 */
export interface FrameConsumer {
  readonly writer: WireBatchWriter;
  /** (u32 record offset, u32 0, u64 addend) and (u32 record offset, u32 1, u64 array size) entries, little-endian. */
  readonly clock: Buffer;
  readonly lingerUs?: number;
  readonly maxLatencyMs?: number;
  readonly maxBatchBytes?: number;
}

export interface ReaderOptions extends Omit<NativeReaderOptions, 'render' | 'outFd' | 'aggregate' | 'wire' | 'wireClock'> {
  /** Render mode: the consumer's plan renders every record on the poll thread. */
  consumer?: RenderConsumer;
  /** Aggregate mode (not with a render consumer): the consumer's aggregator counts every record on the poll thread. */
  aggregate?: AggregateConsumer;
  /** Wire mode (alone): batch frames written on the poll thread. */
  frames?: FrameConsumer;
}

/**
 * A frame a wire-mode reader handed over is not counted as V8 external memory (it is copied into gRPC messages at
 * once and dies young); one that JS keeps, or that nothing copied, is counted from this call on.
 */
export function keepReaderFrame(frame: Buffer): void {
  native.readerFrameKept(frame);
}

/** Record header size in a batch. */
export const RECORD_HEADER_BYTES = 8;

/**
 * Hand a batch Buffer back to its reader once nothing reads it any more (its memory is reused for the next
 * batches instead of waiting for a GC). The Buffer and every view of it read as empty afterwards. Returns false
 * for a Buffer that is not a reader batch.
 */
export function releaseBatch(buf: Buffer): boolean {
  return native.batchRelease(buf);
}

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
  #watch: (() => void) | undefined; // leaves the shared tick
  protected readonly nativeOpts: NativeReaderOptions;

  protected constructor(readonly mapFd: number, protected readonly cb: BatchCallback, readonly opts: ReaderOptions) {
    const { consumer, aggregate, frames, ...rest } = opts;
    if ([consumer, aggregate, frames].filter(Boolean).length > 1) throw new Error('a reader renders, aggregates or writes frames: one of them');
    this.nativeOpts = consumer
      ? { ...rest, render: consumer.plan.handle, outFd: consumer.outFd, preamble: consumer.preamble, memoRequests: consumer.memoRequests, lingerUs: consumer.lingerUs ?? rest.lingerUs, lingerMaxUs: consumer.lingerMaxUs ?? rest.lingerMaxUs, maxLatencyMs: consumer.maxLatencyMs ?? rest.maxLatencyMs }
      : aggregate ? { ...rest, aggregate: aggregate.aggregator.handle }
        : frames ? { ...rest, wire: frames.writer.handle, wireClock: frames.clock, lingerUs: frames.lingerUs ?? rest.lingerUs, maxLatencyMs: frames.maxLatencyMs ?? rest.maxLatencyMs, maxBatchBytes: frames.maxBatchBytes ?? rest.maxBatchBytes }
          : rest;
  }

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
    const h = this.open();
    this.#handle = h;
    this.opts.aggregate?.attached();
    const consumer = this.opts.consumer;
    if (consumer) {
      consumer.attached({ write: (bytes) => native.readerWriteOut(h, bytes) });
      // The output check rides the shared 1 s tick (no wake-up of its own); a failed write is noticed within ~1 s.
      this.#watch = everySecond(() => {
        if (this.#handle !== h) return;
        const st = native.readerStats(h);
        if (!st.outputError) return;
        this.#watch?.();
        this.#watch = undefined;
        consumer.outputFailed(st.outputErrno ?? 0, st.outputError);
      });
    }
    return this;
  }

  /**
   * Stop (true) or resume (false) handing batches to the callback. While paused the bounded queue stays full, the
   * poll thread waits and the kernel ring fills: the BPF side counts what it cannot reserve (a slow consumer's
   * back-pressure reaches the kernel). No-op once stopped; stop() still delivers what is queued.
   */
  pause(paused: boolean): void {
    if (this.#handle) native.readerPause(this.#handle, paused);
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
    this.#watch?.();
    this.#watch = undefined;
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
    return native.ringOpen(this.mapFd, this.cb, this.nativeOpts);
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
    return native.perfOpen(this.mapFd, this.pageCount, this.cb, this.nativeOpts);
  }
}

export type AnyReader = RingReader | PerfReader;

/**
 * Consume every record now in a ring buffer on the calling thread (on-demand snapshots: run the programs, then
 * drain). Same layout as a reader batch; records past `maxBytes` (0: 64 MiB) are consumed and counted in `dropped`.
 */
export function drainRing(map: BpfMap, maxBytes = 0): { buf: Buffer; count: number; dropped: number } {
  return native.ringDrain(map.fd, maxBytes);
}

/**
 * A perf buffer read on the calling thread (no poll thread): read(timeoutMs) waits at most that long for records,
 * so a caller inside synchronous code (a WASM guest's perfReaderRead) sees records the kernel has written.
 */
export class PerfDrain {
  #h: PerfDrainHandle | null;

  constructor(map: BpfMap, pageCount: number) {
    this.#h = native.perfDrainOpen(map.fd, pageCount);
  }

  /** Records now in the buffer (after waiting up to timeoutMs for the first), as a reader batch. */
  read(timeoutMs: number, maxBytes = 0): { buf: Buffer; count: number; dropped: number; lost: number } {
    if (!this.#h) throw new Error('perf buffer is closed');
    return native.perfDrain(this.#h, timeoutMs, maxBytes);
  }

  /** Unmap the buffers. Idempotent. */
  close(): void {
    if (this.#h) native.perfDrainClose(this.#h);
    this.#h = null;
  }
}
