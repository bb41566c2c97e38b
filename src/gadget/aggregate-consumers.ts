// Aggregate consumers offered per data source: an operator that only needs per-key sums of a data source's
// records (otel-metrics exporting a counter by proc.comm) offers a consumer whose aggregator counts them on the
// reader's poll thread; the operator that reads the records (eBPF tracer) opens its reader with it when no render
// consumer is used and nothing but that operator's own subscriber (and native-equivalent ones) needs the records.
import type { AggregateConsumer } from '../bpf/metrics-aggregator.js';
import type { DataSource, Subscriber } from '../datasource/index.js';
import { OfferedPerDataSource } from './offered-consumers.js';

/** An aggregate consumer for one data source, standing in for one JS subscriber of it. */
export interface DataSourceAggregateConsumer extends AggregateConsumer {
  /** The subscriber whose work the aggregator does (it sees no record when the consumer is used). */
  readonly standsInFor: Subscriber;
}

export class AggregateConsumers extends OfferedPerDataSource<DataSourceAggregateConsumer> {
  constructor() { super('an aggregate consumer'); }

  /** The consumer of `ds`, when one was offered and no other subscriber needs the records in JS. */
  for(ds: DataSource): DataSourceAggregateConsumer | undefined {
    const c = this.offered(ds);
    return c && ds.onlyNativeEquivalentSubscribers(c.standsInFor) ? c : undefined;
  }
}
