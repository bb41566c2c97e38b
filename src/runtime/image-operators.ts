// Image operators by media type (upstream's OCI handler): each layer of a gadget image goes to the operator
// registered for its media type; that operator reads the layer (an eBPF object, a WASM module, ...) and declares
// the gadget's data sources, params and offered-name declarations. Layers nobody registered for are skipped.
//
// Extension point: a new kind of program registers itself once, at import time of its runtime module:
//
//   registerImageOperator(MT_WASM, { name: 'wasm', instantiate: (ctx, layer) => new WasmOperator(ctx, layer.data) });
//
// and src/runtime/builtin.ts imports that module. The factory runs while the run is assembled (before params
// are parsed); it may throw a GadgetError for a bad layer.
import type { GadgetContext, ImageLayer } from '../gadget/context.js';
import type { OperatorInstance } from '../gadget/operator.js';

export interface ImageOperator {
  /** Operator name (messages, --verbose). */
  readonly name: string;
  instantiate(ctx: GadgetContext, layer: ImageLayer): OperatorInstance | Promise<OperatorInstance>;
}

const byMediaType = new Map<string, ImageOperator>();

/** Register the image operator for a layer media type; registering a second one for a type is an error. */
export function registerImageOperator(mediaType: string, op: ImageOperator): void {
  const prev = byMediaType.get(mediaType);
  if (prev && prev !== op) throw new Error(`image operator for ${mediaType} is already registered (${prev.name})`);
  byMediaType.set(mediaType, op);
}

/** The image operator for a media type, if any. */
export function imageOperatorFor(mediaType: string): ImageOperator | undefined {
  return byMediaType.get(mediaType);
}

/** Media types that have an image operator (for messages). */
export function imageMediaTypes(): string[] {
  return [...byMediaType.keys()];
}

/**
 * Operators a gadget.yaml switches on by configuration instead of a layer: `operator.<name>.emitstats: true`
 * (upstream's top_process, top_cpu_throttle, bpfstats have no program at all; the process, cgroup and ebpf
 * operators produce their data). `config` is the effective `operator.<name>` section: the gadget.yaml values
 * with `params.custom` patches applied (see custom-params.ts).
 */
export interface ConfigOperator {
  readonly name: string;
  instantiate(ctx: GadgetContext, config: ConfigSection): OperatorInstance | Promise<OperatorInstance>;
}

/** `operator.<name>` of gadget.yaml (keys lower-cased); values are read when the run starts (params are set then). */
export type ConfigSection = () => Record<string, unknown>;

const byConfigName = new Map<string, ConfigOperator>();

export function registerConfigOperator(name: string, op: ConfigOperator): void {
  const prev = byConfigName.get(name);
  if (prev && prev !== op) throw new Error(`config operator ${name} is already registered (${prev.name})`);
  byConfigName.set(name, op);
}

export function configOperatorFor(name: string): ConfigOperator | undefined {
  return byConfigName.get(name);
}
