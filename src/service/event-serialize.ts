// GadgetEvent (type = 1, seq = 2, payload = 3, dataSourceID = 4; proto3: zero values left out) written by hand for
// RunGadget's responses, the one message per batch. It is written into one reused scratch and returned as a view:
// grpc-js copies the message into its length-prefixed frame at once (server-interceptors serializeMessage), so a
// batch of ~300 KiB costs no protobufjs Writer and no allocation of its own. Under a storm those allocations were
// a third of the daemon's external memory churn, which drives V8's full GCs.
import type { ApiGadgetEvent } from './proto.js';
import { putVarint } from './varint.js';

let scratch = Buffer.allocUnsafeSlow(64 * 1024);


/** The message bytes: valid until the next call (the caller copies them). */
export function serializeGadgetEvent(ev: ApiGadgetEvent): Buffer {
  const payload = ev.payload;
  const n = payload ? payload.length : 0;
  const need = 3 * 6 + 11 + n;
  if (scratch.length < need) scratch = Buffer.allocUnsafeSlow(Math.max(need, scratch.length * 2));
  const out = scratch;
  let at = 0;
  if (ev.type) { out[at++] = 0x08; at = putVarint(out, at, ev.type >>> 0); }
  if (ev.seq) { out[at++] = 0x10; at = putVarint(out, at, ev.seq >>> 0); }
  if (n > 0) { out[at++] = 0x1a; at = putVarint(out, at, n); at += payload!.copy(out, at); }
  if (ev.dataSourceID) { out[at++] = 0x20; at = putVarint(out, at, ev.dataSourceID >>> 0); }
  return out.subarray(0, at);
}
