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
    public buf: Buffer,
    /** Start of each record's static struct in `buf`. */
    public offs: Uint32Array,
    /** Length of each record's bytes. */
    public lens: Uint32Array,
    public count: number,
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

  /**
   * Append a copy of record `i` of `src` (same data source) as a live record; returns its index. Grows the
   * buffers by doubling, so appending n records costs O(n) copies. Used for array packets (WASM guests).
   */
  append(src: Batch, i: number): number {
    const len = src.lens[i]!;
    const n = this.count;
    const end = n > 0 ? this.offs[n - 1]! + this.lens[n - 1]! : 0;
    if (end + len > this.buf.length) {
      const nb = Buffer.alloc(Math.max(64, (end + len) * 2));
      this.buf.copy(nb, 0, 0, end);
      this.buf = nb;
    }
    if (n >= this.offs.length) {
      const cap = Math.max(8, n * 2);
      const grow = (a: Uint32Array) => { const x = new Uint32Array(cap); x.set(a.subarray(0, n)); return x; };
      this.offs = grow(this.offs);
      this.lens = grow(this.lens);
      const live = new Uint32Array(cap);
      live.set(this.live.subarray(0, this.liveCount));
      this.live = live;
    }
    src.buf.copy(this.buf, end, src.offs[i]!, src.offs[i]! + len);
    this.offs[n] = end;
    this.lens[n] = len;
    for (let c = 0; c < src.columns.length; c++) {
      const col = src.columns[c];
      if (col && col[i] !== undefined) this.column(c)[n] = col[i];
    }
    this.count = n + 1;
    this.live[this.liveCount++] = n;
    return n;
  }
}
