// The data operators every run gets, in no particular order: the context sorts them by priority.
import type { DataOperator } from '../gadget/operator.js';
import { formattersOperator } from '../operators/formatters/operator.js';
import { filterOperator } from '../operators/filter/operator.js';
import { sortOperator } from '../operators/sort/operator.js';
import { limiterOperator } from '../operators/limiter/operator.js';
import { cliOperator, type Sink } from '../operators/cli/operator.js';
import { uidGidResolverOperator } from '../operators/uidgidresolver/operator.js';
import { localManagerOperator } from '../operators/localmanager/operator.js';
import { processEnricherOperator } from '../operators/process/operator.js';
import { socketEnricherOperator } from '../operators/socketenricher/operator.js';
import { otelMetricsOperator } from '../operators/otel-metrics/operator.js';
import { otelLogsOperator } from '../operators/otel-logs/operator.js';
import { networkPolicyOperator } from '../operators/networkpolicy/operator.js';
import { kubeManagerOperator } from '../operators/kubemanager/operator.js';
import { kubeIpResolverOperator } from '../operators/kubeipresolver/operator.js';
import { kubeNameResolverOperator } from '../operators/kubenameresolver/operator.js';
import type { KubeSources } from '../operators/common/pod-source.js';

/**
 * `kube`: this process is a node of a Kubernetes cluster (src/kube's kubeSourcesFromEnv): KubeManager takes
 * LocalManager's place and the Kubernetes resolvers join.
 */
export function defaultDataOperators(opts: { sink?: Sink; extra?: DataOperator[]; kube?: KubeSources } = {}): DataOperator[] {
  const kube = opts.kube;
  const managers = kube ? kubeDataOperators(kube) : [localManagerOperator];
  return [...managers, formattersOperator, uidGidResolverOperator, processEnricherOperator, socketEnricherOperator, filterOperator, networkPolicyOperator, sortOperator, limiterOperator, otelMetricsOperator, otelLogsOperator, cliOperator(opts.sink), ...(opts.extra ?? [])];
}

/** What takes LocalManager's place on a node of a cluster. */
export function kubeDataOperators(kube: KubeSources): DataOperator[] {
  return [kubeManagerOperator(kube), kubeIpResolverOperator(kube.inventory), kubeNameResolverOperator(kube.inventory)];
}
