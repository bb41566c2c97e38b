// `ig run --record`: every batch this operator reads goes to the recording as the kernel's bytes, before any
// other operator (the formatters rewrite timestamps in place). The copy is taken before the batch is emitted and
// committed after, so the host facts the pipeline asked for meanwhile come first in the recording (recording.ts).
// `ig replay`: the recorded batches come back as Batches of the same data sources.
import { Batch, type DataSource } from '../../datasource/index.js';
import type { GadgetContext } from '../../gadget/context.js';
import type { RecordLayout } from '../../gadget/recording.js';
import { batchFromRing } from './records.js';

/**
 * Emit `b`; with a recording, record it first. `layout`: 0 when `raw` is a native reader batch (the bytes as read),
 * the record size when `b` is fixed-size records back to back (map dumps); undefined: any other batch, recorded
 * in the reader layout.
 */
export function emitBatch(ctx: GadgetContext, ds: DataSource, b: Batch, layout?: RecordLayout, raw?: Buffer): void {
  const rec = ctx.recording;
  if (!rec) { ds.emit(b); return; }
  const pending = layout === 0 && raw ? rec.batch(ds.name, raw, b.count, 0)
    : layout !== undefined && layout > 0 ? rec.batch(ds.name, b.buf, b.count, layout)
      : rec.batch(ds.name, toReaderLayout(b), b.count, 0);
  try {
    ds.emit(b);
  } finally {
    pending.commit();
  }
}

/** A batch's records in the native reader's layout ([u32 len][u32 0][payload padded to 8]…). */
export function toReaderLayout(b: Batch): Buffer {
  let size = 0;
  for (let i = 0; i < b.count; i++) size += 8 + ((b.lens[i]! + 7) & ~7);
  const out = Buffer.alloc(size);
  let o = 0;
  for (let i = 0; i < b.count; i++) {
    const len = b.lens[i]!;
    out.writeUInt32LE(len, o);
    b.buf.copy(out, o + 8, b.offs[i]!, b.offs[i]! + len);
    o += 8 + ((len + 7) & ~7);
  }
  return out;
}

/** A recorded batch as a Batch of `ds` (what the reader or the map dump made of it live). */
export function recordedBatch(ds: DataSource, raw: Buffer, count: number, layout: RecordLayout): Batch {
  return layout === 0 ? batchFromRing(ds, raw, count) : Batch.fixed(ds, raw, layout, count);
}
