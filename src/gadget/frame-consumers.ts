// Frame consumers offered per data source: the gRPC daemon's forwarder, which sends every batch as a frame of the
// packet codec, offers a consumer whose wire writer can write those frames on the reader's poll thread; the
// operator that reads the records (eBPF tracer) opens its reader with it when no render or aggregate consumer is
// used and nothing but the forwarder's own subscriber (and native-equivalent ones: the formatters' clock rewrite,
// which the frame writer does itself) needs the records in JS.
import type { FrameConsumer } from '../bpf/reader.js';
import type { DataSource, Subscriber } from '../datasource/index.js';
import { OfferedPerDataSource } from './offered-consumers.js';

/** A frame consumer for one data source, standing in for one JS subscriber of it. */
export interface DataSourceFrameConsumer extends FrameConsumer {
  /** The subscriber whose work the frames do (it sees only the records the writer's memos missed on). */
  readonly standsInFor: Subscriber;
  /** A frame the reader's thread wrote, of `count` records. */
  frame(buf: Buffer, count: number): void;
}

export class FrameConsumers extends OfferedPerDataSource<DataSourceFrameConsumer> {
  constructor() { super('a frame consumer'); }

  /** The consumer of `ds`, when one was offered and no other subscriber needs the records in JS. */
  for(ds: DataSource): DataSourceFrameConsumer | undefined {
    const c = this.offered(ds);
    return c && ds.onlyNativeEquivalentSubscribers(c.standsInFor) ? c : undefined;
  }
}
