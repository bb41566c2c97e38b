// A native writer of the packet codec's batch frames (native/src/wire_batch.c): records scanned in C, every
// computed value from a memo of its tagged bytes keyed by the record bytes it follows from. The addon frees it
// with its last JS reference; close() releases its memos at once.
import { native } from './native.js';
import type { WireBatchHandle } from './native-api.js';

export const WireValueKind = { Memo: 1, WallText: 2 } as const;

export type WireValue =
  | { kind: typeof WireValueKind.Memo; ttlMs: number; ranges: [number, number][] }
  | { kind: typeof WireValueKind.WallText; offs: number };

export interface WireBatchSpec {
  dsId: number;
  /** Bytes the data source's record fields span (a record travels as max(length, this)). */
  recordBytes: number;
  /** The values of the frame's value section, in table order. */
  values: WireValue[];
}

export class WireBatchWriter {
  readonly #h: WireBatchHandle;
  readonly #scratch = Buffer.allocUnsafeSlow(256 * 1024);

  constructor(spec: WireBatchSpec) {
    const s: number[] = [spec.dsId, spec.recordBytes, spec.values.length];
    for (const v of spec.values) {
      if (v.kind === WireValueKind.WallText) s.push(v.kind, 0, v.offs, 0);
      else s.push(v.kind, v.ttlMs, 0, v.ranges.length, ...v.ranges.flat());
    }
    this.#h = native.wireBatchNew(Int32Array.from(s));
  }

  /** The native handle (a reader writing frames on its thread shares the memos: reader.ts FrameConsumer). */
  get handle(): WireBatchHandle { return this.#h; }

  /** The frame of records live[0..n), or the misses as (value, live position) pairs (value -1: record too short). */
  encode(buf: Buffer, offs: Uint32Array, lens: Uint32Array, live: Uint32Array, n: number): Buffer | Int32Array {
    const r = native.wireBatchEncode(this.#h, buf, offs, lens, live, n, this.#scratch);
    // A copy out of the scratch, as the JS encoder makes its result: small frames come from Node's buffer pool
    // (a malloc'd backing store per frame fragmented a long-running daemon's heap: RSS grew with every batch).
    return typeof r === 'number' ? Buffer.from(this.#scratch.subarray(0, r)) : r;
  }

  /** The tagged bytes of `value` for the key of the record at buf[recordOffset] (wall text: digits at `aux`). */
  fill(value: number, buf: Buffer, recordOffset: number, fragment: Buffer, aux = 0): void {
    native.wireBatchFill(this.#h, value, buf, recordOffset, fragment, aux);
  }

  clear(value = -1): void {
    native.wireBatchClear(this.#h, value);
  }

  /** Release the memos now (they are native memory V8 does not see; the handle alone waits for GC). */
  close(): void {
    native.wireBatchClose(this.#h);
  }
}
