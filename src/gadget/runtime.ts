// Assemble one run: resolve the image, read its metadata, instantiate the image operator (eBPF) and the
// data operators. The caller then sets params and calls ctx.run().
// images.js, not the oci/index.js facade: a run needs no build, registry or credentials code up front.
import { getGadgetImage, type GetImageOptions } from '../oci/images.js';
import { GadgetContext, GadgetError } from './context.js';
import { parseMetadata } from './metadata.js';
import { Logger } from './logger.js';
import type { DataOperator, OperatorInstance } from './operator.js';
import { EbpfOperator } from '../operators/ebpf/operator.js';

export interface PrepareOptions {
  image?: GetImageOptions;
  operators: DataOperator[];
  log?: Logger;
}

export async function prepareGadget(ref: string, opts: PrepareOptions): Promise<GadgetContext> {
  const img = await getGadgetImage(ref, opts.image);
  const md = parseMetadata(img.metadata, `${img.reference}: gadget.yaml`);
  const ctx = new GadgetContext(img, md, opts.log ?? new Logger());
  const first: OperatorInstance[] = [];
  if (img.ebpf) first.push(new EbpfOperator(ctx, img.ebpf));
  if (!img.ebpf && !img.wasm) throw new GadgetError(`image ${img.reference} has neither an eBPF program nor a WASM module`);
  await ctx.instantiate(first, opts.operators);
  return ctx;
}
