// Assemble one run: resolve the image, read its metadata, hand each layer to the image operator registered for
// its media type, then instantiate the data operators. The caller then sets params and calls ctx.run().
// image-load.js, not a facade: a run needs no build, registry or credentials code up front.
import { getGadgetImage, type GetImageOptions } from '../oci/image-load.js';
import { GadgetContext, GadgetError, type ImageLayer } from '../gadget/context.js';
import { parseMetadata } from '../gadget/metadata.js';
import { Logger } from '../gadget/logger.js';
import type { DataOperator, OperatorInstance } from '../gadget/operator.js';
import { applyAnnotations, checkAnnotationTargets, type Annotation } from '../gadget/annotate.js';
import { imageMediaTypes, imageOperatorFor } from './image-operators.js';
import './builtin.js';

export interface PrepareOptions {
  image?: GetImageOptions;
  operators: DataOperator[];
  log?: Logger;
  /** --annotate: merged into the metadata before any data source or field exists. */
  annotate?: Annotation[];
}

export async function prepareGadget(ref: string, opts: PrepareOptions): Promise<GadgetContext> {
  const img = await getGadgetImage(ref, opts.image);
  const md = parseMetadata(img.metadata, `${img.reference}: gadget.yaml`);
  if (opts.annotate?.length) applyAnnotations(md, opts.annotate);
  const ctx = new GadgetContext(img, md, opts.log ?? new Logger());
  await ctx.instantiate(await instantiateImageOperators(ctx, img.reference, img.layers), opts.operators);
  if (opts.annotate?.length) checkAnnotationTargets(opts.annotate, ctx.dataSources);
  return ctx;
}

/** One image operator instance per layer that has a registered media type, in manifest order. */
export async function instantiateImageOperators(ctx: GadgetContext, reference: string, layers: ImageLayer[]): Promise<OperatorInstance[]> {
  const out: OperatorInstance[] = [];
  for (const layer of layers) {
    const op = imageOperatorFor(layer.mediaType);
    if (!op) {
      ctx.log.debug(`image ${reference}: no image operator for layer ${layer.digest} (${layer.mediaType}); skipped`);
      continue;
    }
    out.push(await op.instantiate(ctx, layer));
  }
  if (out.length === 0) {
    const have = layers.map((l) => l.mediaType).join(', ') || 'none';
    throw new GadgetError(`image ${reference} has no layer ig can run (layer media types: ${have}; runnable: ${imageMediaTypes().join(', ')})`);
  }
  return out;
}
