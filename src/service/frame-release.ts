// When a frame a reader's thread wrote may go back to the reader's pool (native/src/batch_pool.c): once every client
// write of it has completed and no writer reads it any more. Until then the memory stays the frame's: a client whose
// socket is full still holds its write while a faster one is done, and the pool must not hand the block to the next
// frame. A frame something else keeps (read again for upstream-form clients, a failed write) is never released
// early and is counted as V8 external memory from then on, so that GC sees the block it holds; one a writer copied
// (grpc-js's own message path) just goes with GC, as before.

/** How a write of a frame ended: written and no longer read, copied by the writer, or failed (may still be read). */
export type WriteOutcome = 'done' | 'copied' | 'failed';

export class FrameRelease {
  /** Writes not yet called back, plus one for the forwarding in progress. */
  private pending = 1;
  private outcome: 'release' | 'gc' | 'count' = 'release';

  constructor(private readonly frame: Buffer, private readonly release: (frame: Buffer) => void, private readonly count: (frame: Buffer) => void) {}

  /** A write of the frame was queued; call the result once it completed. */
  write(): (how: WriteOutcome) => void {
    this.pending++;
    let called = false;
    return (how) => {
      if (called) return;
      called = true;
      if (how === 'failed') this.outcome = 'count';
      else if (how === 'copied' && this.outcome === 'release') this.outcome = 'gc';
      this.settle();
    };
  }

  /** Something keeps the frame beyond its writes: never released early, counted. */
  hold(): void {
    this.outcome = 'count';
  }

  /** The frame was handed to everyone who gets it (call once, after the writes were queued). */
  forwarded(): void {
    this.settle();
  }

  private settle(): void {
    if (--this.pending !== 0) return;
    if (this.outcome === 'release') this.release(this.frame);
    else if (this.outcome === 'count') this.count(this.frame);
  }
}
