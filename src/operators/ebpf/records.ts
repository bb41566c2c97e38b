// Split a native reader batch ([u32 len][u32 cpu][payload padded to 8]...) into a Batch without copying,
// unless a record is shorter than the struct (then the batch is re-laid with zero padding, as upstream pads).
import { Batch, type DataSource } from '../../datasource/index.js';

export function batchFromRing(ds: DataSource, buf: Buffer, count: number): Batch {
  const offs = new Uint32Array(count);
  const lens = new Uint32Array(count);
  const need = ds.staticSize;
  let short = false;
  let o = 0;
  for (let k = 0; k < count; k++) {
    const len = buf.readUInt32LE(o);
    offs[k] = o + 8;
    lens[k] = len;
    if (len < need) short = true;
    o += 8 + ((len + 7) & ~7);
  }
  if (!short) return new Batch(ds, buf, offs, lens, count);
  const stride = (Math.max(need, ...lens) + 7) & ~7;
  const out = Buffer.alloc(stride * count);
  for (let k = 0; k < count; k++) {
    buf.copy(out, k * stride, offs[k]!, offs[k]! + lens[k]!);
    offs[k] = k * stride;
  }
  return new Batch(ds, out, offs, lens, count);
}

/** Interleave dumped keys and values into records [key][value]. */
export function batchFromDump(ds: DataSource, keys: Buffer, values: Buffer, count: number, keySize: number, valueSize: number): Batch {
  const rec = keySize + valueSize;
  const out = Buffer.allocUnsafe(rec * count);
  for (let k = 0; k < count; k++) {
    keys.copy(out, k * rec, k * keySize, (k + 1) * keySize);
    values.copy(out, k * rec + keySize, k * valueSize, (k + 1) * valueSize);
  }
  return Batch.fixed(ds, out, rec, count);
}
