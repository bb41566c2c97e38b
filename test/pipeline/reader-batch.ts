// Records laid out as the ring reader hands them to batchFromRing (src/operators/ebpf/records.ts): each one behind
// [u32 length][u32 cpu], the layout the native-plan tests build their random batches in.

/** A field's storage at a fixed place of the record. */
export const staticAt = (offs: number, size: number) => ({ type: 'static' as const, offs, size });

/** `count` records of `size` bytes in reader layout; `fill` writes record `k`, which starts at `rec` in `buf`. */
export function readerBatch(size: number, count: number, fill: (buf: Buffer, rec: number, k: number) => void): Buffer {
  const stride = 8 + size;
  const buf = Buffer.alloc(stride * count);
  for (let k = 0; k < count; k++) {
    buf.writeUInt32LE(size, k * stride);
    fill(buf, k * stride + 8, k);
  }
  return buf;
}
