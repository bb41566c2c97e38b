// The events buffer of a headless instance (upstream: the instance's event ring): the last `length` events, kept
// while no client may be attached, replayed to every client that attaches before the live events. Kept as the
// batch frames the forwarder encodes anyway (one copy for all clients); whole batches are dropped from the front
// while the rest still holds `length` events, and the replay skips the surplus at the front of the first one.
import { PacketDecoder, PacketEncoder } from '../datasource/codec.js';
import type { Batch } from '../datasource/index.js';

interface Entry { dsId: number; frame: Buffer; records: number }

export interface ReplayedBatch {
  dsId: number;
  /** The batch decoded (its data source is built from the field tables). */
  batch: Batch;
  /** The batch frame to send to batch-form clients (the stored one, or a re-encoding of a trimmed batch). */
  frame: Buffer;
  records: number;
}

export class ReplayBuffer {
  private readonly entries: Entry[] = [];
  private head = 0;
  private total = 0;

  constructor(readonly length: number) {}

  get events(): number { return this.total; }

  push(dsId: number, frame: Buffer, records: number): void {
    if (records <= 0) return;
    this.entries.push({ dsId, frame, records });
    this.total += records;
    while (this.head < this.entries.length - 1 && this.total - this.entries[this.head]!.records >= this.length) {
      this.total -= this.entries[this.head]!.records;
      this.head++;
    }
    // Compact now and then: the array front is garbage once head passes half of it.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * The last `length` buffered events as batches, oldest first. `tables` are the field-table frames the stream
   * starts with (data source numbers 0…n-1, as the stored batch frames refer to them).
   */
  replay(tables: Buffer, dataSourceCount: number): ReplayedBatch[] {
    if (this.total === 0) return [];
    const dec = new PacketDecoder();
    dec.decode(tables);
    let skip = Math.max(0, this.total - this.length);
    let enc: PacketEncoder | undefined;
    const out: ReplayedBatch[] = [];
    for (let k = this.head; k < this.entries.length; k++) {
      const e = this.entries[k]!;
      const [d] = dec.decode(e.frame);
      if (!d) continue;
      let frame = e.frame;
      let records = e.records;
      if (skip > 0) {
        // The oldest batch holds more than the buffer keeps: drop its first `skip` records and encode it again
        // with an encoder that numbers the data sources as the stream did (tables are known to the client).
        const drop = Math.min(skip, d.batch.liveCount);
        skip -= drop;
        d.batch.live.copyWithin(0, drop, d.batch.liveCount);
        d.batch.liveCount -= drop;
        records = d.batch.liveCount;
        if (records === 0) continue;
        if (!enc) {
          enc = new PacketEncoder();
          for (let id = 0; id < dataSourceCount; id++) { const ds = dec.dataSource(id); if (ds) enc.encode(ds.newBatch(0)); }
        }
        frame = enc.encode(d.batch);
      }
      out.push({ dsId: e.dsId, batch: d.batch, frame, records });
    }
    return out;
  }
}
