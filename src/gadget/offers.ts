// Offered names: how operators feed a gadget's program without knowing each other (upstream's rule).
//
// The image operator that reads the program *declares* what it has: its maps (with the key/value layout from
// BTF) and its injectable `const volatile` variables. Any operator may then *offer* a map or a variable value
// under a name (LocalManager: `gadget_mntns_filter_map` and `gadget_filter_by_mntns`; the socket enricher:
// `gadget_sockets`). When the program is loaded, the loader replaces every declared map that has an offered
// map of the same name and sets every declared variable that has an offered value. Nobody else reads offers:
// the loader does not know who offered what, and the offering operator does not know who loads.
import type { BpfMap } from '../bpf/map.js';
import type { StructLayout } from '../bpf/btf/model.js';

/** A map the gadget's program declares. Sizes and layouts are known when its BTF describes them. */
export interface DeclaredMap {
  name: string;
  /** enum bpf_map_type, when the declaration says. */
  type?: number;
  keySize?: number;
  valueSize?: number;
  key?: StructLayout;
  value?: StructLayout;
}

interface Offer<T> { value: T; by: string }

export class OfferedNames {
  readonly #declaredMaps = new Map<string, DeclaredMap>();
  readonly #declaredVars = new Set<string>();
  readonly #maps = new Map<string, Offer<BpfMap>>();
  readonly #vars = new Map<string, Offer<Buffer>>();
  readonly #loaded = new Map<string, BpfMap>();

  /** Image operators: the program declares this map. */
  declareMap(m: DeclaredMap): void { this.#declaredMaps.set(m.name, m); }
  /** Image operators: the program has this injectable variable (a `const volatile` global). */
  declareVariable(name: string): void { this.#declaredVars.add(name); }

  /** The declared map of that name, if the program has one: an operator offers only what is wanted. */
  declaredMap(name: string): DeclaredMap | undefined { return this.#declaredMaps.get(name); }
  declaresVariable(name: string): boolean { return this.#declaredVars.has(name); }

  /** Offer `map` under `name`; the offering operator (`by`) keeps owning and closes it after the run. */
  offerMap(name: string, map: BpfMap, by: string): void {
    const prev = this.#maps.get(name);
    if (prev && prev.value !== map) throw new Error(`map ${name} is offered twice (by ${prev.by} and ${by})`);
    this.#maps.set(name, { value: map, by });
  }

  /** Offer the bytes of a variable (its declared size; shorter values are zero-padded by the loader). */
  offerVariable(name: string, value: Buffer, by: string): void {
    const prev = this.#vars.get(name);
    if (prev && !prev.value.equals(value)) throw new Error(`variable ${name} is offered twice (by ${prev.by} and ${by})`);
    this.#vars.set(name, { value, by });
  }

  /** Withdraw an offer (the operator closed what it offered). */
  withdrawMap(name: string): void { this.#maps.delete(name); }

  offeredMap(name: string): BpfMap | undefined { return this.#maps.get(name)?.value; }
  offeredVariable(name: string): Buffer | undefined { return this.#vars.get(name)?.value; }

  /**
   * The other direction, after load: the image operator publishes the program's maps by name (upstream's
   * "map:<name>" variables), for operators that work with the program's state (a WASM module's getMap).
   * The loader keeps owning them; they are withdrawn when it unloads.
   */
  publishLoadedMap(name: string, map: BpfMap): void { this.#loaded.set(name, map); }
  withdrawLoadedMaps(): void { this.#loaded.clear(); }
  loadedMap(name: string): BpfMap | undefined { return this.#loaded.get(name); }
}
