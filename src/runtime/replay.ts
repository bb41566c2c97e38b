// `ig replay` (and any other caller, e.g. the library's recordings source): a recording runs through the same
// assembly as a live run. The recorded image's operators are built from the recording, the eBPF operator emits
// the recorded batches instead of loading anything, and host facts (clock offset, names, executables,
// containers) come from the recording. The caller sets params (output, filter, …) and calls ctx.run().
import type { GadgetContext } from '../gadget/context.js';
import type { Logger } from '../gadget/logger.js';
import type { DataOperator } from '../gadget/operator.js';
import type { Annotation } from '../gadget/annotate.js';
import type { FeedOptions, Recording } from '../record/recording.js';
import { prepareGadgetFromImage } from './assemble.js';
import { recordedKubeNode, replayKubeSources } from '../operators/common/kube-facts.js';
import { kubeDataOperators } from './operators.js';

export interface ReplayOptions extends FeedOptions {
  operators: DataOperator[];
  log?: Logger;
  annotate?: Annotation[];
}

/**
 * Params of the recorded run that shaped its output are not taken over: a replay is there to look at the same
 * events another way. The others (gadget params, container selection) are what the recorded run was, and are the
 * replay's defaults.
 */
const OUTPUT_PARAMS = ['operator.cli.', 'operator.filter.', 'operator.sort.', 'operator.limiter.', 'operator.otel'];

export function inheritedParam(key: string): boolean {
  return !OUTPUT_PARAMS.some((p) => key.startsWith(p));
}

/**
 * A recording made on a node of a cluster replays with KubeManager and the Kubernetes resolvers in LocalManager's
 * place (as `ig run` chose them there), answering from the recorded API-server answers.
 */
export function replayOperators(rec: Recording, operators: DataOperator[]): DataOperator[] {
  const node = recordedKubeNode(rec.facts);
  if (!node || !operators.some((o) => o.name === 'LocalManager')) return operators;
  const kube = replayKubeSources(rec.facts, node);
  return operators.flatMap((o) => (o.name === 'LocalManager' ? kubeDataOperators(kube) : [o]));
}

export async function prepareReplay(rec: Recording, opts: ReplayOptions): Promise<GadgetContext> {
  const ctx = await prepareGadgetFromImage(rec.image, {
    operators: replayOperators(rec, opts.operators), log: opts.log, annotate: opts.annotate,
    facts: rec.facts, replay: rec.feed({ speed: opts.speed }),
  });
  for (const [k, v] of Object.entries(rec.params)) {
    if (!inheritedParam(k) || !ctx.params.find(k)) continue;
    // A value this build no longer accepts keeps the default: the recording is still worth replaying.
    try { ctx.params.set(k, v); } catch (e) { ctx.log.debug(`recorded param ${k}=${v} not applied: ${(e as Error).message}`); }
  }
  return ctx;
}
