// One gRPC streaming call on an HTTP/2 connection of its own, framed here on the raw socket instead of through
// grpc-js and node:http2: gadgetctl's RunGadget event stream. Node's HTTP/2 hands every DATA frame (at most 16 KiB,
// whatever frame size the client announces) to JS as its own Buffer and grpc-js then concatenates each message;
// under a storm that was ~0.7 µs per trace_open event in the client before anything was rendered. Here the socket
// reads into one reused buffer (net's `onread`), frames are parsed per read, message bytes are copied once into a
// message buffer (reused while the handler keeps nothing of it), and the receive window is granted in bulk.
//
// Standard gRPC over HTTP/2 (h2c with prior knowledge, as grpc-js and grpc-go speak it on unix sockets and plain
// TCP), so any upstream-compatible server answers; TLS connections keep grpc-js (client.ts decides).
import * as net from 'node:net';
import { HpackDecoder, HpackError, encodeLiterals } from './hpack.js';

/** gRPC status codes used here (grpc-js's `status`). */
const Status = { OK: 0, CANCELLED: 1, UNKNOWN: 2, INTERNAL: 13, UNAVAILABLE: 14, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8 } as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FrameKind = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
const STREAM = 1;
/** Receive window of the stream and the connection: a storm is not paced by window updates (as client.ts's). */
const WINDOW = 32 << 20;
/** Largest frame this side accepts (SETTINGS_MAX_FRAME_SIZE's maximum, 2^24-1). */
const MAX_FRAME = (1 << 24) - 1;
/** Socket reads land here (net copies nothing else per read). */
const READ_BUFFER = 1 << 20;
/** Largest gRPC message accepted (as grpc.max_receive_message_length in client.ts). */
const MAX_MESSAGE = 64 << 20;

export interface CallStatus { code: number; details: string }

export interface H2CallOptions {
  /** Unix socket path, or host and port. */
  socketPath?: string;
  host?: string;
  port?: number;
  /** `/package.Service/Method` */
  path: string;
  authority: string;
  /** Extra request headers (gRPC metadata, lower-case names). */
  metadata?: Record<string, string>;
  /** Give up (UNAVAILABLE) when the connection is not made within this many ms (0: no limit). */
  connectTimeoutMs?: number;
}

export interface H2CallHandlers {
  /**
   * One gRPC message, buf[start, end): return true when something still references these bytes after the call
   * (the transport then leaves this buffer alone), false to let it reuse them for the next message.
   */
  onMessage(buf: Buffer, start: number, end: number): boolean;
  /** The call's end: OK with the trailers, or the status that ended it (once). */
  onStatus(s: CallStatus): void;
}

function frameHeader(len: number, type: number, flags: number, stream: number): Buffer {
  const h = Buffer.allocUnsafe(9);
  h.writeUIntBE(len, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return h;
}

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([frameHeader(payload.length, type, flags, stream), payload]);
}

function windowUpdate(stream: number, n: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(n, 0);
  return frame(FrameKind.WINDOW_UPDATE, 0, stream, p);
}

/** The gRPC status an HTTP status stands for when a response has no grpc-status (gRPC's http-grpc-status-mapping). */
function statusOfHttp(s: number): number {
  switch (s) {
    case 400: return Status.INTERNAL;
    case 401: return Status.UNAUTHENTICATED;
    case 403: return Status.PERMISSION_DENIED;
    case 404: return Status.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return Status.UNAVAILABLE;
    default: return Status.UNKNOWN;
  }
}

/** An HTTP/2 error code of RST_STREAM or GOAWAY as a gRPC status (grpc-js maps them alike). */
function statusOfH2Error(code: number): number {
  if (code === 0x8) return Status.CANCELLED; // CANCEL
  if (code === 0x7) return Status.UNAVAILABLE; // REFUSED_STREAM
  if (code === 0xb) return Status.RESOURCE_EXHAUSTED; // ENHANCE_YOUR_CALM
  if (code === 0xc) return Status.PERMISSION_DENIED; // INADEQUATE_SECURITY
  return Status.INTERNAL;
}

function decodeGrpcMessage(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; } // not percent-encoded as it should be: shown as sent
}

/**
 * A fixed-size header (HTTP/2's 9-byte frame header, gRPC's 5-byte message prefix), read where it lies in a read
 * buffer, or gathered into its own bytes when a read cuts it (rare: a copy is a call into C++ per header).
 */
class FixedHeader {
  private readonly own: Buffer;
  have = 0;
  /** After take() returned true: the header is src[at, at + size). After any take(): the position after its bytes. */
  src: Buffer;
  at = 0;
  next = 0;

  constructor(readonly size: number) {
    this.own = Buffer.alloc(size);
    this.src = this.own;
  }

  /** Takes the header's bytes from buf[pos, end); true once it is whole. */
  take(buf: Buffer, pos: number, end: number): boolean {
    if (this.have === 0 && end - pos >= this.size) {
      this.src = buf;
      this.at = pos;
      this.have = this.size;
      this.next = pos + this.size;
      return true;
    }
    const n = Math.min(this.size - this.have, end - pos);
    buf.copy(this.own, this.have, pos, pos + n);
    this.have += n;
    this.next = pos + n;
    if (this.have < this.size) return false;
    this.src = this.own;
    this.at = 0;
    return true;
  }
}

export class H2Call {
  private readonly socket: net.Socket;
  private readonly hpack = new HpackDecoder();
  private ended = false;
  /** Frame header being read (it may span two reads), and the current frame's remaining payload. */
  private readonly fh = new FixedHeader(9);
  private type = 0;
  private flags = 0;
  private stream = 0;
  private left = 0;
  /** Non-DATA frame payload being gathered (they are small), and a header block across CONTINUATION frames. */
  private ctl: Buffer[] = [];
  private block: Buffer[] = [];
  private blockEndsStream = false;
  /** DATA frame padding still to skip (PADDED), and whether its pad-length byte is still to come. */
  private pad = 0;
  private padLenNext = false;
  /** gRPC message assembly: its 5-byte prefix, then its bytes into msg[0, msgLen). */
  private readonly prefix = new FixedHeader(5);
  private msg: Buffer = Buffer.allocUnsafe(0);
  private msgLen = -1;
  private msgHave = 0;
  /** The last message's buffer was left to this side (not kept by the handler): the next may reuse it. */
  private reusable = true;
  /** Bytes received on the stream and connection not yet granted back. */
  private unacked = 0;
  private headersSeen = false;
  private httpStatus = 0;
  private trailers: Map<string, string> | undefined;

  constructor(opts: H2CallOptions, private readonly h: H2CallHandlers) {
    const connect = opts.socketPath !== undefined ? { path: opts.socketPath } : { host: opts.host!, port: opts.port! };
    this.socket = net.connect({ ...connect, onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n: number, buf: Uint8Array) => { this.onRead(buf as Buffer, n); return true; } } });
    this.socket.setNoDelay?.(true);
    const settings = Buffer.alloc(18);
    settings.writeUInt16BE(0x2, 0); settings.writeUInt32BE(0, 2); // ENABLE_PUSH off
    settings.writeUInt16BE(0x4, 6); settings.writeUInt32BE(WINDOW, 8); // INITIAL_WINDOW_SIZE
    settings.writeUInt16BE(0x5, 12); settings.writeUInt32BE(MAX_FRAME, 14); // MAX_FRAME_SIZE
    const headers = encodeLiterals([
      [':method', 'POST'], [':scheme', 'http'], [':path', opts.path], [':authority', opts.authority],
      ['content-type', 'application/grpc'], ['te', 'trailers'], ['user-agent', 'ig-gadgetctl'],
      ...Object.entries(opts.metadata ?? {}),
    ]);
    this.socket.write(Buffer.concat([
      PREFACE, frame(FrameKind.SETTINGS, 0, 0, settings), windowUpdate(0, WINDOW - 65535),
      frame(FrameKind.HEADERS, Flag.END_HEADERS, STREAM, headers),
    ]));
    if (opts.connectTimeoutMs) {
      const t = setTimeout(() => this.fail(`connection timed out after ${opts.connectTimeoutMs! / 1000} s`, Status.UNAVAILABLE), opts.connectTimeoutMs);
      t.unref();
      this.socket.once('connect', () => clearTimeout(t));
      this.socket.once('close', () => clearTimeout(t));
    }
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.finish({ code: Status.UNAVAILABLE, details: this.headersSeen ? `connection lost: ${e.message}` : e.message }));
    this.socket.on('close', () => this.finish({ code: Status.UNAVAILABLE, details: this.headersSeen ? 'the daemon closed the connection before the call ended' : 'connection closed' }));
  }

  /** Send one gRPC message on the stream (uncompressed). */
  write(msg: Buffer): void {
    if (this.ended) return;
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(msg.length, 1);
    this.socket.write(Buffer.concat([frameHeader(msg.length + 5, FrameKind.DATA, 0, STREAM), prefix, msg]));
  }

  /** Half-close: this side sends no more messages. */
  end(): void {
    if (!this.ended) this.socket.write(frame(FrameKind.DATA, Flag.END_STREAM, STREAM));
  }

  /** Cancel the call (RST_STREAM CANCEL) and drop the connection. */
  cancel(): void {
    if (this.ended) return;
    const p = Buffer.alloc(4);
    p.writeUInt32BE(0x8, 0);
    this.socket.end(frame(FrameKind.RST_STREAM, 0, STREAM, p));
    this.finish({ code: Status.CANCELLED, details: 'Cancelled on client' });
  }

  /** Stop (true) or resume reading: the daemon is held back once the window is used up. */
  pause(paused: boolean): void {
    if (paused) this.socket.pause(); else this.socket.resume();
  }

  private finish(s: CallStatus): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.socket.destroyed) {
      if (s.code === Status.OK) this.socket.end(); else this.socket.destroy();
    }
    this.h.onStatus(s);
  }

  private fail(details: string, code: number = Status.INTERNAL): void {
    this.finish({ code, details });
  }

  private onRead(buf: Buffer, n: number): void {
    try {
      this.parse(buf, n);
    } catch (e) {
      // A protocol error of the server or the handler's own failure: the call ends with it.
      if (e instanceof HpackError) this.fail(e.message);
      else this.fail((e as Error).message, Status.UNKNOWN);
      return;
    }
    // Grant what was read back in bulk (a quarter of the window at a time: one small write per ~8 MiB).
    if (this.unacked >= WINDOW / 4 && !this.ended) {
      this.socket.write(Buffer.concat([windowUpdate(0, this.unacked), windowUpdate(STREAM, this.unacked)]));
      this.unacked = 0;
    }
  }

  private parse(buf: Buffer, n: number): void {
    let pos = 0;
    while (pos < n && !this.ended) {
      if (this.fh.have < 9) {
        const whole = this.fh.take(buf, pos, n);
        pos = this.fh.next;
        if (!whole) return;
        const h = this.fh.src;
        const at = this.fh.at;
        this.left = (h[at]! << 16) | (h[at + 1]! << 8) | h[at + 2]!;
        this.type = h[at + 3]!;
        this.flags = h[at + 4]!;
        this.stream = ((h[at + 5]! & 0x7f) << 24) | (h[at + 6]! << 16) | (h[at + 7]! << 8) | h[at + 8]!;
        if (this.left > MAX_FRAME) { this.fail(`HTTP/2: frame of ${this.left} bytes`); return; }
        if (this.type === FrameKind.DATA) {
          this.unacked += this.left;
          this.padLenNext = (this.flags & Flag.PADDED) !== 0;
          this.pad = 0;
        }
        if (this.type !== FrameKind.DATA) this.ctl = [];
        if (this.left === 0) { this.frameDone(); continue; }
      }
      const take = Math.min(this.left, n - pos);
      if (this.type === FrameKind.DATA) this.data(buf, pos, pos + take);
      else this.ctl.push(Buffer.from(buf.subarray(pos, pos + take))); // copied: `buf` is reused by the next read
      pos += take;
      this.left -= take;
      if (this.left === 0) this.frameDone();
    }
  }

  /** Part of a DATA frame's payload, buf[from, to). */
  private data(buf: Buffer, from: number, to: number): void {
    // (this.left: the frame's bytes from `from` on, its pad-length byte and padding included)
    let frameLeft = this.left;
    if (this.padLenNext) {
      this.pad = buf[from]!;
      this.padLenNext = false;
      from++;
      frameLeft--;
      if (this.pad > frameLeft) { this.fail('HTTP/2: DATA padding longer than the frame'); return; }
    }
    // The padding is the frame's last `pad` bytes: what this part holds of the data proper.
    const end = Math.min(to, from + Math.max(0, frameLeft - this.pad));
    if (this.stream !== STREAM) return;
    let pos = from;
    while (pos < end && !this.ended) {
      if (this.msgLen < 0) {
        const whole = this.prefix.take(buf, pos, end);
        pos = this.prefix.next;
        if (!whole) return;
        const h = this.prefix.src;
        const at = this.prefix.at;
        if (h[at] !== 0) { this.fail('gRPC: a compressed message, and this client asked for none'); return; }
        const len = h[at + 1]! * 0x1000000 + ((h[at + 2]! << 16) | (h[at + 3]! << 8) | h[at + 4]!);
        if (len > MAX_MESSAGE) { this.fail(`gRPC: a message of ${len} bytes, more than the ${MAX_MESSAGE} accepted`, Status.RESOURCE_EXHAUSTED); return; }
        this.msgLen = len;
        this.msgHave = 0;
        // A kept message's successor likely is kept too (upstream's one event per message): its own exact
        // buffer then, not a 1 MiB one per message.
        if (!this.reusable) this.msg = Buffer.allocUnsafe(len);
        else if (this.msg.length < len) this.msg = Buffer.allocUnsafe(Math.max(len, 1 << 20));
      }
      const take = Math.min(this.msgLen - this.msgHave, end - pos);
      buf.copy(this.msg, this.msgHave, pos, pos + take);
      this.msgHave += take;
      pos += take;
      if (this.msgHave === this.msgLen) {
        const m = this.msg;
        const len = this.msgLen;
        this.msgLen = -1;
        this.prefix.have = 0;
        // A handler that keeps the bytes gets them to itself: the next message goes to a fresh buffer.
        this.reusable = !this.h.onMessage(m, 0, len);
      }
    }
  }

  private frameDone(): void {
    this.fh.have = 0;
    if (this.type === FrameKind.DATA) {
      // (its bytes went to messages as they came: no payload to gather, nothing allocated per frame)
      if (this.stream === STREAM && this.flags & Flag.END_STREAM) this.endOfStream();
      return;
    }
    const payload = this.ctl.length === 1 ? this.ctl[0]! : Buffer.concat(this.ctl);
    this.ctl = [];
    switch (this.type) {
      case FrameKind.HEADERS: {
        if (this.stream !== STREAM) return;
        let at = 0;
        let end = payload.length;
        if (this.flags & Flag.PADDED) { end -= payload[0]!; at = 1; }
        if (this.flags & Flag.PRIORITY) at += 5;
        this.block = [payload.subarray(at, end)];
        this.blockEndsStream = (this.flags & Flag.END_STREAM) !== 0;
        if (this.flags & Flag.END_HEADERS) this.headerBlock();
        return;
      }
      case FrameKind.CONTINUATION:
        this.block.push(payload);
        if (this.flags & Flag.END_HEADERS) this.headerBlock();
        return;
      case FrameKind.SETTINGS:
        if (!(this.flags & Flag.ACK)) this.socket.write(frame(FrameKind.SETTINGS, Flag.ACK, 0));
        return;
      case FrameKind.PING:
        if (!(this.flags & Flag.ACK)) this.socket.write(frame(FrameKind.PING, Flag.ACK, 0, payload));
        return;
      case FrameKind.RST_STREAM:
        if (this.stream === STREAM) {
          const code = payload.readUInt32BE(0);
          this.fail(`stream reset by the daemon (HTTP/2 error ${code})`, statusOfH2Error(code));
        }
        return;
      case FrameKind.GOAWAY: {
        // Our stream (1) is at or below the last stream the server will finish unless it says 0: then it is gone.
        const last = payload.readUInt32BE(0) & 0x7fffffff;
        const code = payload.readUInt32BE(4);
        if (last < STREAM) this.fail(`the daemon went away (HTTP/2 GOAWAY, error ${code})`, code === 0 ? Status.UNAVAILABLE : statusOfH2Error(code));
        return;
      }
      case FrameKind.PUSH_PROMISE:
        this.fail('HTTP/2: PUSH_PROMISE, which this client disabled');
        return;
      default:
        return; // WINDOW_UPDATE (this side sends little), PRIORITY, unknown types: nothing to do
    }
  }

  private headerBlock(): void {
    const fields = this.hpack.decode(this.block.length === 1 ? this.block[0]! : Buffer.concat(this.block));
    this.block = [];
    const map = new Map(fields);
    if (!this.headersSeen) {
      this.headersSeen = true;
      this.httpStatus = Number(map.get(':status') ?? 0);
      // A trailers-only response (an error before any message) carries grpc-status in this first block.
      if (map.has('grpc-status') || this.blockEndsStream) { this.trailers = map; this.endOfStream(); return; }
      if (this.httpStatus !== 200) { this.fail(`HTTP status ${this.httpStatus} from the daemon`, statusOfHttp(this.httpStatus)); return; }
      const ct = map.get('content-type') ?? '';
      if (!ct.startsWith('application/grpc')) { this.fail(`the daemon answered with content-type "${ct}", not gRPC`, Status.UNKNOWN); return; }
      return;
    }
    this.trailers = map;
    if (this.blockEndsStream) this.endOfStream();
  }

  private endOfStream(): void {
    const t = this.trailers;
    if (!t || !t.has('grpc-status')) {
      if (this.httpStatus && this.httpStatus !== 200) this.fail(`HTTP status ${this.httpStatus} from the daemon`, statusOfHttp(this.httpStatus));
      else this.fail('the daemon ended the call without a gRPC status', Status.UNKNOWN);
      return;
    }
    if (this.msgLen >= 0 || this.prefix.have > 0) { this.fail('the call ended inside a message', Status.INTERNAL); return; }
    const code = Number(t.get('grpc-status'));
    this.finish({ code: Number.isInteger(code) ? code : Status.UNKNOWN, details: decodeGrpcMessage(t.get('grpc-message') ?? '') });
  }
}
