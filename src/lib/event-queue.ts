// The bounded hand-over between a gadget's batches and the consumer's loop. Batches are kept as they are (the
// record bytes and the live indices); an event is a view made when the consumer takes it. Past `maxBytes` the
// source is paused (for a ring reader the ring fills and the kernel counts what it could not write); a source
// that cannot pause loses the batch, counted.
import type { Batch, DataSource } from '../datasource/index.js';
import type { EventBatch, LostEvents } from './api.js';
import type { EventView, ViewClass } from './views.js';

export interface Source {
  /** Stop (true) or resume (false) the producer of a data source; false when it cannot. */
  pause(ds: DataSource, paused: boolean): boolean;
}

interface Item { b: Batch; live: Uint32Array; n: number; View: ViewClass; bytes: number }

class Events implements EventBatch<EventView> {
  constructor(private readonly it: Item) {}
  get dataSource(): string { return this.it.b.ds.name; }
  get length(): number { return this.it.n; }
  at(i: number): EventView {
    if (!(i >= 0 && i < this.it.n)) throw new RangeError(`event ${i} of a batch of ${this.it.n}`);
    return new this.it.View(this.it.b, this.it.live[i]!);
  }
  *[Symbol.iterator](): Iterator<EventView> {
    const { b, live, n, View } = this.it;
    for (let k = 0; k < n; k++) yield new View(b, live[k]!);
  }
}

const DONE: IteratorResult<never> = { value: undefined, done: true };

export class EventQueue {
  private readonly items: Item[] = [];
  private head = 0;
  private cur: Item | undefined;
  private k = 0;
  private bytes = 0;
  private readonly paused = new Set<DataSource>();
  private waiter: (() => void) | undefined;
  private ended = false;
  private error: unknown;
  lost = 0;

  constructor(private readonly source: Source, private readonly maxBytes: number, private readonly onLost?: (l: LostEvents) => void) {}

  /** A batch the pipeline has finished with (its live records are the events). */
  push(b: Batch, View: ViewClass): void {
    if (this.ended || b.liveCount === 0) return;
    const bytes = b.buf.length + b.liveCount * 4;
    if (this.bytes + bytes > this.maxBytes && this.bytes > 0) {
      if (!this.paused.has(b.ds)) {
        if (!this.source.pause(b.ds, true)) { this.addLost(b.ds.name, b.liveCount, 'queue full'); return; }
        this.paused.add(b.ds);
      }
    }
    // The live indices are copied: the batch's own array belongs to the pipeline.
    this.items.push({ b, live: b.live.slice(0, b.liveCount), n: b.liveCount, View, bytes });
    this.bytes += bytes;
    this.wake();
  }

  addLost(dataSource: string, count: number, cause: string): void {
    this.lost += count;
    this.onLost?.({ dataSource, count, cause });
  }

  /** No more batches: the consumer gets what is queued, then the end (or `error`). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.wake();
  }

  /** Forget what is queued (the consumer stopped). */
  clear(): void {
    this.items.length = 0;
    this.head = 0;
    this.cur = undefined;
    this.bytes = 0;
    this.resume();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private resume(): void {
    for (const ds of this.paused) this.source.pause(ds, false);
    this.paused.clear();
  }

  /** The next batch, or undefined at the end. */
  private take(): Item | undefined {
    if (this.cur) { this.bytes -= this.cur.bytes; this.cur = undefined; }
    if (this.paused.size > 0 && this.bytes <= this.maxBytes / 2) this.resume();
    if (this.head >= this.items.length) return undefined;
    const it = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as Item;
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items.splice(0, this.head); this.head = 0; }
    this.cur = it;
    this.k = 0;
    return it;
  }

  private async wait(): Promise<boolean> {
    for (;;) {
      if (this.head < this.items.length) return true;
      if (this.ended) {
        if (this.error !== undefined) throw this.error;
        return false;
      }
      await new Promise<void>((resolve) => { this.waiter = resolve; });
    }
  }

  /** Iterator step over single events. The common case (an event of the current batch) allocates the view only. */
  next(): Promise<IteratorResult<EventView>> {
    const cur = this.cur;
    if (cur !== undefined && this.k < cur.n) return Promise.resolve({ value: new cur.View(cur.b, cur.live[this.k++]!), done: false });
    return this.nextSlow();
  }

  private async nextSlow(): Promise<IteratorResult<EventView>> {
    for (;;) {
      const it = this.take();
      if (it) {
        if (it.n === 0) continue;
        return { value: new it.View(it.b, it.live[this.k++]!), done: false };
      }
      if (!(await this.wait())) return DONE;
    }
  }

  async nextBatch(): Promise<IteratorResult<EventBatch<EventView>>> {
    for (;;) {
      const it = this.take();
      if (it) return { value: new Events(it), done: false };
      if (!(await this.wait())) return DONE;
    }
  }
}
