// The data operators every run gets, in no particular order: the context sorts them by priority.
import type { DataOperator } from '../gadget/operator.js';
import { formattersOperator } from './formatters/operator.js';
import { filterOperator } from './filter/operator.js';
import { sortOperator } from './sort/operator.js';
import { limiterOperator } from './limiter/operator.js';
import { cliOperator, type Sink } from './cli/operator.js';
import { uidGidResolverOperator } from './uidgidresolver/operator.js';
import { localManagerOperator } from './localmanager/operator.js';
import { processEnricherOperator } from './process/operator.js';
import { socketEnricherOperator } from './socketenricher/operator.js';
import { otelMetricsOperator } from './otel-metrics/operator.js';

export function defaultDataOperators(opts: { sink?: Sink; extra?: DataOperator[] } = {}): DataOperator[] {
  return [localManagerOperator, formattersOperator, uidGidResolverOperator, processEnricherOperator, socketEnricherOperator, filterOperator, sortOperator, limiterOperator, otelMetricsOperator, cliOperator(opts.sink), ...(opts.extra ?? [])];
}
