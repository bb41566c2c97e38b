// Render consumers offered per data source: an output that can render a data source's records on the reader's
// poll thread (the cli's JSON plan) offers a consumer here; the operator that reads the records (eBPF tracer)
// opens its reader with it when nothing else needs those records in JS. The output owns the policy (fd,
// linger, what a failed write means); the reader only runs the plan.
import type { RenderConsumer } from '../bpf/reader.js';
import type { Batch, DataSource } from '../datasource/index.js';
import { OfferedPerDataSource } from './offered-consumers.js';

/** A render consumer for one data source. */
export interface DataSourceRenderConsumer extends RenderConsumer {
  /** Records already printed with memo fragments past their TTL: recompute those fragments. */
  refresh(b: Batch): void;
  /** Records the plan missed on (memoRequests): fill the memos they need; the reader renders them afterwards. */
  missed?(b: Batch): void;
  /** The consumer's plan evaluates every predicate of the data source (ds.predicates()): filters need no JS. */
  readonly filters?: boolean;
}

export class RenderConsumers extends OfferedPerDataSource<DataSourceRenderConsumer> {
  constructor() { super('a render consumer'); }

  /** The consumer of `ds`, when one was offered and every subscriber of `ds` is one its plan stands in for. */
  for(ds: DataSource): DataSourceRenderConsumer | undefined {
    const c = this.offered(ds);
    return c && ds.onlyNativeEquivalentSubscribers(undefined, c.filters === true) ? c : undefined;
  }
}
