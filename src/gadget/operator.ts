// Operators: pipeline stages instantiated in priority order. Each may add params and data sources,
// subscribe to data sources in preStart, and run in start/stop. Stops run in reverse order.
import type { GadgetContext } from './context.js';
import type { ParamDesc } from './params.js';

export interface OperatorInstance {
  readonly name: string;
  /** Params this instance adds once the data sources are known (per-DS filter, sort, output...). */
  params?(): ParamDesc[];
  preStart?(ctx: GadgetContext): void | Promise<void>;
  start?(ctx: GadgetContext): void | Promise<void>;
  stop?(ctx: GadgetContext): void | Promise<void>;
  postStop?(ctx: GadgetContext): void | Promise<void>;
}

export interface DataOperator {
  readonly name: string;
  readonly priority: number;
  /** Process-wide params (set once per process). */
  globalParams?(): ParamDesc[];
  /** Return an instance, or null when this gadget does not need the operator. */
  instantiate(ctx: GadgetContext): OperatorInstance | null | Promise<OperatorInstance | null>;
}
