// One remote client's view of a run: a bounded queue in front of its gRPC stream. Events the client is too slow
// to take are dropped here and counted (never queued without bound, never waited for): the gadget and the other
// clients go on at their own pace. The count reaches the client as a GadgetLost event once there is room again,
// and as a gap in the sequence numbers.
//
// The bound counts GadgetEvent messages in flight, as upstream's per-client channel of `--events-buffer-length`
// messages does (one message there is one packet: an event, or an array of them), plus a byte cap: one of ig's
// batch messages carries up to 1 MiB, ~4,700 trace_open events. Counted in events, the default 16,384 was ~2.7
// frames, ~70 ms of a 240 k opens/s storm: a client that ran ~70 ms late (its first frames, a GC, a busy machine;
// a unix socket holds only ~200 KiB of what is written) lost a whole frame although it caught up at once.
//
// Two forms: ig's batch form (clients that send the WIRE_FORM_METADATA header: one GadgetBatch event per batch,
// GadgetLost events) and upstream's form for every other client (one GadgetPayload event per packet; a dropped
// packet shows only as a gap in the sequence numbers, as with upstream's daemon).
import { EventType, EVENT_LOG_SHIFT, LogLevel } from './consts.js';
import type { ApiGadgetEvent } from './proto.js';
import type { WriteOutcome } from './frame-release.js';

/** The part of a gRPC server stream this needs. */
export interface EventWriter {
  write(ev: ApiGadgetEvent, cb?: (err?: Error | null) => void): unknown;
  /**
   * True when a payload is no longer read once its write has called back without error (the socket has its bytes):
   * the run may then hand a reader frame's memory back for reuse (http2-event-writer.ts). grpc-js's own call
   * copies each message at once too, but writers that keep payloads (tests) must not say so.
   */
  readonly releasesPayloads?: boolean;
  end(): unknown;
  emit(event: 'error', err: { code: number; details: string }): unknown;
}

export type WireForm = 'batch' | 'upstream';

/**
 * Bytes of messages in flight per client before it loses events: ~0.6 s of a 240 k opens/s storm (~53 MB/s of
 * frames). Frames are shared by a run's clients, so this bounds what one stalled client keeps alive, not a copy.
 */
export const DEFAULT_CLIENT_BYTES = 32 << 20;
/** IG_WIRE_BUDGET=events: the bound as before 2026-12-07, `capacity` events in flight, no byte cap (benchmarks). */
const BUDGET_IN_EVENTS = process.env.IG_WIRE_BUDGET === 'events';

export class ClientStream {
  private seq = 0;
  /** Data messages written to the stream whose write has not completed yet (the transport holds them), and their bytes. */
  private inFlight = 0;
  private inFlightBytes = 0;
  private inFlightRecords = 0;
  private lost = 0;
  private closed = false;
  /** Records dropped for this client over its lifetime, and records sent. */
  lostTotal = 0;
  sentTotal = 0;

  /** Called after each write the transport completed (a recording's feed waits for it: gadget-run.ts). */
  onWritten: (() => void) | undefined;

  /**
   * `capacity`: data messages in flight (`--events-buffer-length`); `byteCapacity`: their bytes. A message is
   * always taken when nothing is in flight, whatever its size.
   */
  constructor(private readonly out: EventWriter, readonly capacity: number, readonly form: WireForm = 'batch', readonly byteCapacity: number = DEFAULT_CLIENT_BYTES) {}

  get isClosed(): boolean { return this.closed; }
  /** Data messages written whose write has not completed yet. */
  get backlog(): number { return this.inFlight; }
  /** How full the queue is: the larger of its message and byte shares (0 empty, 1 full). */
  get fill(): number {
    if (BUDGET_IN_EVENTS) return this.inFlightRecords / this.capacity;
    return Math.max(this.inFlight / this.capacity, this.inFlightBytes / this.byteCapacity);
  }

  /** Whether one more message of `bytes` bytes and `records` events is over the client's budget. */
  private full(bytes: number, records: number): boolean {
    if (this.inFlight === 0) return false;
    if (BUDGET_IN_EVENTS) return this.inFlightRecords + records > this.capacity;
    return this.inFlight + 1 > this.capacity || this.inFlightBytes + bytes > this.byteCapacity;
  }

  /** Count a data message into the budget (it is about to be written); false, counting its records lost, when over. */
  private take(bytes: number, records: number): boolean {
    this.seq++;
    if (this.full(bytes, records)) {
      this.lostTotal += records;
      return false;
    }
    this.inFlight++;
    this.inFlightBytes += bytes;
    this.inFlightRecords += records;
    this.sentTotal += records;
    return true;
  }

  /** A taken message's write completed: give its share of the budget back. */
  private settle(bytes: number, records: number): void {
    this.inFlight--;
    this.inFlightBytes -= bytes;
    this.inFlightRecords -= records;
  }

  /**
   * A batch of `records` records of data source `dsId`; dropped (and counted) when the client is behind. Written?
   * When written, `done` is called once the write completed: 'done' when the writer no longer reads the payload
   * (releasesPayloads), 'copied' when it did not say so, 'failed' on an error.
   */
  sendBatch(dsId: number, payload: Buffer, records: number, done?: (how: WriteOutcome) => void): boolean {
    if (this.closed) return false;
    const bytes = payload.length;
    if (!this.take(bytes, records)) {
      this.lost += records;
      return false;
    }
    if (this.lost > 0) this.flushLost();
    this.out.write({ type: EventType.GadgetBatch, seq: this.seq, payload, dataSourceID: dsId }, (err) => {
      this.settle(bytes, records);
      done?.(err ? 'failed' : this.out.releasesPayloads === true ? 'done' : 'copied');
      // The client caught up: tell it now what it missed, not only with the next batch (there may be none).
      if (this.lost > 0 && !this.closed) this.flushLost();
      this.onWritten?.();
    });
    return true;
  }

  /** One upstream packet (GadgetData or GadgetDataArray) of `records` events; dropped when the client is behind. */
  sendPacket(dsId: number, payload: Buffer, records: number): void {
    if (this.closed) return;
    const bytes = payload.length;
    // Upstream's form has no GadgetLost event: a dropped packet shows only as a gap in the sequence numbers.
    if (!this.take(bytes, records)) return;
    this.out.write({ type: EventType.GadgetPayload, seq: this.seq, payload, dataSourceID: dsId }, () => {
      this.settle(bytes, records);
      this.onWritten?.();
    });
  }

  private flushLost(): void {
    const p = Buffer.alloc(8);
    p.writeBigUInt64LE(BigInt(this.lost));
    this.lost = 0;
    this.out.write({ type: EventType.GadgetLost, seq: this.seq, payload: p, dataSourceID: 0 });
  }

  /** Control events (gadget info, logs) are never dropped: they are few and the client needs them. */
  sendControl(type: number, payload: Buffer, dsId = 0): void {
    if (this.closed) return;
    this.out.write({ type, seq: this.seq, payload, dataSourceID: dsId });
  }

  log(level: number, msg: string): void {
    this.sendControl((level << EVENT_LOG_SHIFT) >>> 0, Buffer.from(msg));
  }

  /** End the stream: OK, or with an error status that carries one clear message. */
  close(err?: { code: number; details: string }): void {
    if (this.closed) return;
    if (this.lost > 0) this.flushLost();
    this.closed = true;
    if (err) this.out.emit('error', err);
    else this.out.end();
  }
}

/** Map our logger's line prefix to a log level of the protocol. */
export function levelOfLine(line: string): { level: number; msg: string } {
  const m = /^(ERROR|WARN|INFO|DEBUG): ?/.exec(line);
  const msg = (m ? line.slice(m[0].length) : line).replace(/\n$/, '');
  switch (m?.[1]) {
    case 'ERROR': return { level: LogLevel.Error, msg };
    case 'INFO': return { level: LogLevel.Info, msg };
    case 'DEBUG': return { level: LogLevel.Debug, msg };
    default: return { level: LogLevel.Warn, msg };
  }
}
