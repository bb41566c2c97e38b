// Assemble one run: resolve the image, read its metadata, hand each layer to the image operator registered for
// its media type, then instantiate the data operators. The caller then sets params and calls ctx.run().
// image-load.js, not a facade: a run needs no build, registry or credentials code up front.
import { join } from 'node:path';
import { getGadgetImage, type GetImageOptions } from '../oci/image-load.js';
import { defaultStorePath } from '../oci/store.js';
import { GadgetContext, GadgetError, type GadgetImageInfo, type ImageLayer } from '../gadget/context.js';
import type { HostFacts } from '../gadget/host-facts.js';
import type { RecordSink, ReplayFeed } from '../gadget/recording.js';
import { parseMetadata } from '../gadget/metadata.js';
import { Logger } from '../gadget/logger.js';
import type { DataOperator, OperatorInstance } from '../gadget/operator.js';
import { applyAnnotations, checkAnnotationTargets, type Annotation } from '../gadget/annotate.js';
import { configOperatorFor, imageMediaTypes, imageOperatorFor } from './image-operators.js';
import { customParams, operatorConfig } from './custom-params.js';
import './builtin.js';

export interface PrepareOptions {
  image?: GetImageOptions;
  operators: DataOperator[];
  log?: Logger;
  /** --annotate: merged into the metadata before any data source or field exists. */
  annotate?: Annotation[];
  /** Set before any operator is instantiated (they may ask the host at once): record/replay (src/record). */
  facts?: HostFacts;
  recording?: RecordSink;
  replay?: ReplayFeed;
}

export async function prepareGadget(ref: string, opts: PrepareOptions): Promise<GadgetContext> {
  return prepareGadgetFromImage(await getGadgetImage(ref, opts.image), opts);
}

/** The same with an image already in hand (a replay's recorded image). */
export async function prepareGadgetFromImage(img: GadgetImageInfo & { metadata: Buffer | null; layers: ImageLayer[] }, opts: PrepareOptions): Promise<GadgetContext> {
  const md = parseMetadata(img.metadata, `${img.reference}: gadget.yaml`, join(opts.image?.store ?? defaultStorePath(), 'cache', 'gadget-yaml'));
  if (opts.annotate?.length) applyAnnotations(md, opts.annotate);
  const ctx = new GadgetContext(img, md, opts.log ?? new Logger());
  if (opts.facts) ctx.facts = opts.facts;
  ctx.recording = opts.recording;
  ctx.replay = opts.replay;
  await ctx.instantiate(await instantiateImageOperators(ctx, img.reference, img.layers), opts.operators);
  if (opts.annotate?.length) checkAnnotationTargets(opts.annotate, ctx.dataSources);
  return ctx;
}

/**
 * One image operator instance per layer that has a registered media type, in manifest order; then one per
 * `operator.<name>.emitstats: true` section of gadget.yaml whose operator is registered (gadgets without a program).
 */
export async function instantiateImageOperators(ctx: GadgetContext, reference: string, layers: ImageLayer[]): Promise<OperatorInstance[]> {
  const out: OperatorInstance[] = [];
  const custom = customParams(ctx.metadata);
  if (custom.length > 0) out.push({ name: 'custom-params', params: () => custom });
  const before = out.length;
  for (const layer of layers) {
    const op = imageOperatorFor(layer.mediaType);
    if (!op) {
      ctx.log.debug(`image ${reference}: no image operator for layer ${layer.digest} (${layer.mediaType}); skipped`);
      continue;
    }
    out.push(await op.instantiate(ctx, layer));
  }
  for (const [name, section] of Object.entries(ctx.metadata.operator)) {
    const cfg = section && typeof section === 'object' ? section as Record<string, unknown> : {};
    if (String(cfg['emitstats']) !== 'true') continue;
    const op = configOperatorFor(name);
    if (!op) throw new GadgetError(`image ${reference}: gadget.yaml sets operator.${name}.emitstats, but ig has no ${name} statistics operator`);
    out.push(await op.instantiate(ctx, () => operatorConfig(ctx, name)));
  }
  if (out.length === before) {
    const have = layers.map((l) => l.mediaType).join(', ') || 'none';
    throw new GadgetError(`image ${reference} has no layer ig can run (layer media types: ${have}; runnable: ${imageMediaTypes().join(', ')})`);
  }
  return out;
}
