// RunGadget's events written straight onto the call's HTTP/2 stream, without grpc-js's message path. grpc-js
// serializes each message and copies it into a new length-prefixed Buffer (server-interceptors serializeMessage):
// under an open() storm that is a fresh ~1 MiB allocation per batch (page faults, zeroing, V8 external memory that
// drives major GCs) and a copy of every byte, about a quarter of the daemon's CPU. Here the gRPC prefix and the
// GadgetEvent fields around the payload are a few bytes of their own, and the payload (a batch frame, shared by every
// client of the run) goes to the stream as it is: node's HTTP/2 hands it to the socket without copying it.
//
// Everything else stays grpc-js's: the response headers (sent through the call before the first event), the status
// and trailers (call.end(), or an 'error' on the call), cancellation. Every event of a call goes through this writer,
// so they stay in order with each other and with the status grpc-js writes after them on the same stream.
import type * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { EventWriter } from './client-stream.js';
import type { ApiGadgetEvent } from './proto.js';
import { putVarint, varintLength } from './varint.js';

/** Payloads up to this size are copied into the message's own Buffer (one write); larger ones are written as they are. */
const COPY_MAX = 4096;

type DuplexCall = grpc.ServerDuplexStream<unknown, ApiGadgetEvent>;



/**
 * The HTTP/2 stream under a grpc-js server call, when grpc-js is laid out as this was written for (1.10-1.14: the
 * call's `call` is the base intercepting call, no server interceptors, holding the stream as `stream`); otherwise
 * undefined and the caller writes through grpc-js.
 */
function http2StreamOf(call: DuplexCall): http2.ServerHttp2Stream | undefined {
  const inner = (call as unknown as { call?: { stream?: unknown; sendMessage?: unknown } }).call;
  const s = inner?.stream as Partial<http2.ServerHttp2Stream> | undefined;
  if (!s || typeof inner?.sendMessage !== 'function') return undefined;
  if (typeof s.write !== 'function' || typeof s.respond !== 'function' || typeof s.sendTrailers !== 'function' || typeof s.cork !== 'function') return undefined;
  return s as http2.ServerHttp2Stream;
}

/**
 * The gRPC message bytes of `ev` but for its payload: [0][u32 BE length][type][seq][payload key and length], and
 * the bytes after the payload ([dataSourceID]); proto3 leaves zero values out (as event-serialize.ts, field order
 * 1-4 as protobuf writes it).
 */
export function gadgetEventFraming(ev: ApiGadgetEvent): { head: Buffer; tail: Buffer | undefined } {
  const n = ev.payload ? ev.payload.length : 0;
  const type = ev.type >>> 0;
  const seq = ev.seq >>> 0;
  const ds = ev.dataSourceID >>> 0;
  const headFields = (type ? 1 + varintLength(type) : 0) + (seq ? 1 + varintLength(seq) : 0) + (n > 0 ? 1 + varintLength(n) : 0);
  const tailLen = ds ? 1 + varintLength(ds) : 0;
  const head = Buffer.allocUnsafe(5 + headFields);
  head[0] = 0;
  head.writeUInt32BE(headFields + n + tailLen, 1);
  let at = 5;
  if (type) { head[at++] = 0x08; at = putVarint(head, at, type); }
  if (seq) { head[at++] = 0x10; at = putVarint(head, at, seq); }
  if (n > 0) { head[at++] = 0x1a; putVarint(head, at, n); }
  let tail: Buffer | undefined;
  if (ds) { tail = Buffer.allocUnsafe(tailLen); tail[0] = 0x20; putVarint(tail, 1, ds); }
  return { head, tail };
}

export class Http2EventWriter implements EventWriter {
  /** A payload is no longer read once its write has called back (it is in the socket): its memory may be reused. */
  readonly releasesPayloads = true;
  private headersSent = false;

  private constructor(private readonly call: DuplexCall, private readonly stream: http2.ServerHttp2Stream) {}

  /** A writer for `call`, or undefined when grpc-js does not expose its stream as expected (use the call itself). */
  static of(call: DuplexCall): Http2EventWriter | undefined {
    if (process.env.IG_WIRE_DIRECT === '0') return undefined;
    const s = http2StreamOf(call);
    return s ? new Http2EventWriter(call, s) : undefined;
  }

  write(ev: ApiGadgetEvent, cb?: (err?: Error | null) => void): boolean {
    const s = this.stream;
    if (s.destroyed || s.writableEnded || this.call.cancelled) {
      if (cb) queueMicrotask(() => cb(new Error('stream closed')));
      return false;
    }
    if (!this.headersSent) {
      // grpc-js sends the response headers before its first message; it does nothing when they went already.
      this.call.sendMetadata(new grpc.Metadata());
      this.headersSent = true;
    }
    const { head, tail } = gadgetEventFraming(ev);
    const p = ev.payload;
    const done = cb ? (err?: Error | null) => cb(err ?? null) : undefined;
    if (!p || p.length === 0 || p.length <= COPY_MAX) {
      const msg = Buffer.concat(p && p.length ? (tail ? [head, p, tail] : [head, p]) : (tail ? [head, tail] : [head]));
      return s.write(msg, done);
    }
    // One writev for the three parts: node's HTTP/2 takes the Buffers by reference and calls back once the socket
    // has their bytes.
    s.cork();
    s.write(head);
    const ok = tail ? (s.write(p), s.write(tail, done)) : s.write(p, done);
    s.uncork();
    return ok;
  }

  end(): void {
    this.call.end();
  }

  emit(event: 'error', err: { code: number; details: string }): void {
    this.call.emit(event, err);
  }
}
