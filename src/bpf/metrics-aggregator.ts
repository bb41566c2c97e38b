// A per-key metrics aggregator (native/src/metrics_agg.c): a reader consumer that counts records on the reader's
// poll thread. Its spec says which record bytes make the key and what each record adds to its key's cells; JS
// drains the keys that are new and the deltas of the keys touched since the last drain. The addon frees it when
// the last reference goes away (a reader holds one while it aggregates), so there is nothing to close.
import { native } from './native.js';
import type { MetricsAggregatorDrain, MetricsAggregatorHandle } from './native-api.js';

export type { MetricsAggregatorDrain } from './native-api.js';

/** What a record adds to its key's cells (one cell each; `slots` cells for SlotsU). */
export const AggOp = {
  /** +1 per record (an implicit counter). */
  Count: 1,
  /** + the unsigned / signed integer / float at offset. */
  SumU: 2, SumS: 3, SumF: 4,
  /** = the value at offset (a gauge). */
  LastU: 5, LastS: 6, LastF: 7,
  /** + each of `slots` unsigned integers of `size` bytes from offset (log2 histogram slots). */
  SlotsU: 8,
} as const;

export interface AggKeyRange {
  offset: number;
  size: number;
  /** A C string: bytes after the first NUL are not part of the key (and are zero in the drained key bytes). */
  cstring: boolean;
}

export interface AggValueOp { op: number; offset: number; size: number; slots?: number }

export interface MetricsAggregatorSpec {
  keys: AggKeyRange[];
  ops: AggValueOp[];
  /** Distinct keys kept; records of further keys are counted as overflow. */
  maxKeys: number;
}

export class MetricsAggregator {
  readonly #h: MetricsAggregatorHandle;
  /** Bytes per key in a drain: the key ranges' sizes, in order. */
  readonly keyLength: number;
  /** Cells per key in a drain's deltas (after the slot id). */
  readonly cells: number;

  private constructor(h: MetricsAggregatorHandle, readonly spec: MetricsAggregatorSpec) {
    this.#h = h;
    this.keyLength = spec.keys.reduce((n, k) => n + k.size, 0);
    this.cells = spec.ops.reduce((n, o) => n + (o.op === AggOp.SlotsU ? o.slots ?? 0 : 1), 0);
  }

  /** Check and build; a bad range or op throws with the reason. */
  static create(spec: MetricsAggregatorSpec): MetricsAggregator {
    const keys = Int32Array.from(spec.keys.flatMap((k) => [k.offset, k.size, k.cstring ? 1 : 0]));
    const ops = Int32Array.from(spec.ops.flatMap((o) => [o.op, o.offset, o.size, o.slots ?? 1]));
    return new MetricsAggregator(native.metricsAggNew(keys, ops, spec.maxKeys), spec);
  }

  /** For the reader that aggregates with it (src/bpf only). */
  get handle(): MetricsAggregatorHandle { return this.#h; }

  /** Keys new since the last drain and the deltas of every key touched since then; `reset` forgets every key. */
  drain(reset = false): MetricsAggregatorDrain {
    return native.metricsAggDrain(this.#h, reset);
  }
}

/** A consumer that counts a reader's records with an aggregator on the poll thread (aggregate mode). */
export interface AggregateConsumer {
  readonly aggregator: MetricsAggregator;
  /** The reader aggregates with it from now on: no record of it reaches JS. */
  attached(): void;
}
