// A batch of records of one data source. Records stay bytes: static fields are read in place from `buf`
// at `offs[i]`; fields that operators add live in per-batch columns, or are derived on demand.
import type { DataSource } from './datasource.js';

export class Batch {
  /** Indices of the records still alive, in output order. Filters compact it, sort permutes it. */
  live: Uint32Array;
  liveCount: number;
  /** Values of dynamic (column) fields, indexed by column number then record index. */
  readonly columns: unknown[][] = [];

  constructor(
    readonly ds: DataSource,
    /** Raw record bytes. */
    readonly buf: Buffer,
    /** Start of each record's static struct in `buf`. */
    readonly offs: Uint32Array,
    /** Length of each record's bytes. */
    readonly lens: Uint32Array,
    readonly count: number,
  ) {
    this.live = new Uint32Array(count);
    for (let i = 0; i < count; i++) this.live[i] = i;
    this.liveCount = count;
  }

  /** Build a batch from records that are already contiguous and of equal size (map dumps, arrays). */
  static fixed(ds: DataSource, buf: Buffer, recordSize: number, count: number): Batch {
    const offs = new Uint32Array(count);
    const lens = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      offs[i] = i * recordSize;
      lens[i] = recordSize;
    }
    return new Batch(ds, buf, offs, lens, count);
  }

  /** Records built by user space (snapshots, operators): each record is a zeroed struct of the DS's static size. */
  static empty(ds: DataSource, count: number): Batch {
    const size = Math.max(ds.staticSize, 1);
    return Batch.fixed(ds, Buffer.alloc(size * count), size, count);
  }

  column(index: number): unknown[] {
    let col = this.columns[index];
    if (!col) {
      col = new Array(this.count);
      this.columns[index] = col;
    }
    return col;
  }

  /** Keep only the records for which `keep` returns true, preserving order. */
  retain(keep: (i: number) => boolean): void {
    let n = 0;
    const live = this.live;
    for (let k = 0; k < this.liveCount; k++) {
      const i = live[k]!;
      if (keep(i)) live[n++] = i;
    }
    this.liveCount = n;
  }

  /** Iterate live record indices. */
  *indices(): IterableIterator<number> {
    for (let k = 0; k < this.liveCount; k++) yield this.live[k]!;
  }
}
