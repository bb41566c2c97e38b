// Record and replay, as the operators that read records see them (the file itself is src/record's business).
//
// Recording: the operator that reads the kernel's records (eBPF tracers, map iterators, snapshotters) hands each
// batch's raw bytes, before any other operator has touched them, to `ctx.recording`. It takes a copy before the
// batch is emitted and commits it after, so that the host facts the pipeline asked for while handling the batch
// (host-facts.ts) precede it in the recording.
//
// Replay: the same operator is built from the recorded image, but instead of loading anything into the kernel it
// pulls the recorded batches from a `ReplayFeed` and emits them as if its readers had read them.

import type { RenderPlan } from '../bpf/render-plan.js';

/** Record layout of a batch: 0 the native reader's layout ([u32 len][u32 cpu][payload padded to 8]…), else every
 * record has this many bytes, back to back (map dumps, snapshots). */
export type RecordLayout = number;

export interface PendingBatch {
  /** After the batch was emitted: write it (after the facts asked meanwhile). */
  commit(): void;
}

/** A batch as values, for batches an operator builds in JS (statistics): `rows[i][k]` is field `fields[k]` of record i. */
export interface RecordedRows { fields: string[]; rows: unknown[][] }

export interface RecordSink {
  /** Copies `count` records of `raw` (layout as above) now; call commit() once the batch has been emitted. */
  batch(ds: string, raw: Buffer, count: number, layout: RecordLayout): PendingBatch;
  /** Events the kernel side could not deliver, with their cause. */
  lost(ds: string, n: number, cause: string): void;
  /**
   * Where a native reader with nothing else to feed (no JS reads the records) may hand `ds`'s batches itself, on
   * its own thread (the reader options `record` and `recordDs`); undefined: through `batch` in JS.
   */
  nativeTarget?(ds: string): NativeRecordTarget | undefined;
  /** A batch built in JS (statistics operators), as values. */
  rows?(ds: string, table: RecordedRows): void;
}

/** A native recorder handle and the data source's id in it (src/bpf's reader option `record`). */
export interface NativeRecordTarget { recorder: unknown; ds: number }

/** What a replay hands the image operator, in recorded order. */
export interface ReplaySink {
  batch(ds: string, raw: Buffer, count: number, layout: RecordLayout): void;
  lost(ds: string, n: number, cause: string): void;
  /** A recorded batch of values (RecordSink.rows). */
  rows?(ds: string, table: RecordedRows): void;
  /**
   * While a consumer has paused the data sources (DataSource.pauseProducer: the library's iterator is behind), a
   * promise the feed waits for before its next entry; undefined otherwise. A replay waits instead of losing.
   */
  hold?(): Promise<void> | undefined;
  /**
   * Data sources whose reader-layout batches the feed may render natively, straight to an fd with a render plan
   * (src/bpf/replay-loop.ts), calling JS only for what the plan cannot do; undefined: every batch through `batch`.
   */
  native?: NativeReplayRoutes;
}

/** A replay sink's native rendering (see ReplaySink.native). */
export interface NativeReplayRoutes {
  /** The plan and fd that render `ds`'s records, if any. */
  route(ds: string): { plan: RenderPlan; fd: number } | undefined;
  /** Records the plan missed on (the miss and up to 31 more, reader layout): through the pipeline, which renders them. */
  miss(ds: string, raw: Buffer, count: number): void;
  /** A record rendered with a stale memo fragment: for JS to refresh it. */
  refresh(ds: string, raw: Buffer): void;
  /** Writing the rendered lines failed with `errno`; the feed ends. */
  failed(ds: string, errno: number): void;
}

export interface ReplayFeed {
  /**
   * Deliver everything recorded (facts go to ctx.facts on the way), then resolve. Stops early when `signal`
   * aborts. A damaged file ends the feed where the damage starts; `stopped` then says where, in one line.
   */
  run(sink: ReplaySink, signal: AbortSignal): Promise<void>;
  readonly stopped?: string;
}

/** The used bytes of a native reader batch of `count` records (its buffer may be longer). */
export function readerBatchBytes(buf: Buffer, count: number): number {
  let o = 0;
  for (let k = 0; k < count && o + 8 <= buf.length; k++) o += 8 + ((buf.readUInt32LE(o) + 7) & ~7);
  return Math.min(o, buf.length);
}
