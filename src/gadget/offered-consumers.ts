// One consumer per data source, offered by an operator and taken by the operator that reads the records: the render,
// aggregate and frame consumers keep their offers alike; each kind decides in its own for() when its consumer may
// stand in for JS.
import type { DataSource } from '../datasource/index.js';

export class OfferedPerDataSource<C> {
  readonly #byDs = new Map<DataSource, C>();

  /** `what` names the kind in the error of a second offer ("a render consumer"). */
  constructor(private readonly what: string) {}

  offer(ds: DataSource, consumer: C): void {
    if (this.#byDs.has(ds)) throw new Error(`data source ${ds.name} already has ${this.what}`);
    this.#byDs.set(ds, consumer);
  }

  /** The consumer offered for `ds`, whether or not it may be used. */
  protected offered(ds: DataSource): C | undefined {
    return this.#byDs.get(ds);
  }
}
