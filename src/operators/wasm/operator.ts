// The WASM image operator: runs the gadget's own post-processing module (upstream's host API, module "ig").
// The guest is instantiated and gadgetInit runs while the run is assembled (after the eBPF operator made its
// data sources, before data operators pick fields), then gadgetPreStart/Start/Stop/PostStop follow the run.
import { createHash } from 'node:crypto';
import type { GadgetContext } from '../../gadget/context.js';
import type { OperatorInstance } from '../../gadget/operator.js';
import type { ParamDesc, TypeHint } from '../../gadget/params.js';
import { WasmError } from './errors.js';
import { WasmGuest, type GuestLimits } from './guest.js';
import { GuestMemory } from './memory.js';
import { dataSourceFunctions } from './host-datasource.js';
import { fieldFunctions } from './host-fields.js';
import { mapFunctions } from './host-maps.js';
import { miscFunctions } from './host-misc.js';
import { newState, type HostState } from './state.js';
import { wasmLimits, type WasmLimits } from './limits.js';

export const WASM_PREFIX = 'operator.oci.wasm.';
export type WasmOptions = Partial<WasmLimits> & {
  /**
   * Guard data callbacks with node:vm's deadline (~50 µs of CPU per batch) instead of the process watchdog (no
   * thread per batch). Both stop a stuck callback and end the run in order. Lifecycle calls always use node:vm.
   */
  recoverableCallbacks?: boolean;
};

const TYPE_HINTS = new Set(['bool', 'string', 'int', 'int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16', 'uint32', 'uint64', 'float32', 'float64', 'duration', 'ip', 'strings']);

/** The module's own params: gadget.yaml `params.wasm.<name>` (upstream's ExtraParams). */
function wasmParams(ctx: GadgetContext): ParamDesc[] {
  const params = (ctx.metadata.raw['params'] as Record<string, unknown> | undefined)?.['wasm'];
  if (!params || typeof params !== 'object') return [];
  const out: ParamDesc[] = [];
  for (const [name, v] of Object.entries(params as Record<string, Record<string, unknown>>)) {
    const s = (k: string) => (v?.[k] === undefined || v[k] === null ? undefined : String(v[k]));
    const hint = s('typehint');
    out.push({
      key: s('key') ?? name, prefix: WASM_PREFIX, description: s('description'), defaultValue: s('defaultvalue'), title: s('title'),
      alias: s('alias')?.length === 1 ? s('alias') : undefined, isMandatory: s('ismandatory') === 'true',
      typeHint: hint && TYPE_HINTS.has(hint) ? (hint as TypeHint) : undefined,
    });
  }
  return out;
}

export class WasmOperator implements OperatorInstance {
  readonly name = 'wasm';
  private constructor(private readonly guest: WasmGuest, private readonly state: HostState, private readonly extraParams: ParamDesc[], private readonly watchdog: boolean) {}

  static async create(ctx: GadgetContext, bin: Buffer, opts: WasmOptions = {}): Promise<WasmOperator> {
    const t0 = performance.now();
    const digest = createHash('sha256').update(bin).digest('hex').slice(0, 12);
    const who = `wasm module of ${ctx.name} (sha256:${digest})`;
    const dflt = wasmLimits();
    const limits: GuestLimits = { memoryBytes: opts.memoryLimitBytes ?? dflt.memoryLimitBytes, timeoutMs: opts.timeoutMs ?? dflt.timeoutMs };
    const extra = wasmParams(ctx);
    let guest: WasmGuest | undefined;
    const state = newState({
      ctx, who, mem: new GuestMemory(),
      paramValue: (key) => (extra.some((p) => p.key === key) ? ctx.params.get(WASM_PREFIX + key) : undefined),
      run: (what, fn) => (what === 'dataSourceCallback' ? guest!.fast(what, fn) : guest!.call(what, fn)),
      fail: (e) => ctx.fail(e),
    });
    const host = { ...dataSourceFunctions(state), ...fieldFunctions(state), ...miscFunctions(state), ...mapFunctions(state) };
    try {
      guest = await WasmGuest.load(bin, who, limits, host as never, state.mem, !opts.recoverableCallbacks);
    } catch (e) {
      runCleanups(state);
      throw e;
    }
    state.cleanups.push(() => guest!.close());
    const self = new WasmOperator(guest, state, extra, !opts.recoverableCallbacks);
    // Params of the module are registered by the context right after this instance (params()).
    const cb = guest.export('dataSourceCallback');
    if (cb) state.dsCallback = cb as HostState['dsCallback'];
    try {
      self.lifecycle('gadgetInit');
    } catch (e) {
      runCleanups(state);
      throw e;
    } finally {
      guest.endStart();
    }
    ctx.log.debug(`${who}: ready in ${(performance.now() - t0).toFixed(1)} ms (compiled, instantiated, gadgetInit; ${guest.upcalls.length} host functions imported)`);
    return self;
  }

  params(): ParamDesc[] {
    return this.extraParams;
  }

  /** Upcalls the module imports (for inspection). */
  get upcalls(): string[] {
    return this.guest.upcalls;
  }

  private lifecycle(name: string): void {
    const fn = this.guest.export(name);
    if (!fn) return;
    const r = this.guest.call(name, () => fn());
    if (r !== undefined && Number(r) !== 0) throw new WasmError(`${this.state.who}: ${name} returned ${String(r)} (failure)`);
  }

  preStart(): void {
    // The watchdog thread starts with the run, not while it is assembled (--help, bad flags never need it).
    if (this.watchdog) this.guest.useWatchdog();
    this.lifecycle('gadgetPreStart');
  }
  start(): void { this.lifecycle('gadgetStart'); }

  stop(): void {
    if (!this.guest.failure) this.lifecycle('gadgetStop');
  }

  /**
   * Subscriptions stay until here: the eBPF operator stops after this one (reverse order) and drains its
   * readers, and those last records still go through the module, as upstream's do.
   */
  postStop(): void {
    try {
      if (!this.guest.failure) this.lifecycle('gadgetPostStop');
    } finally {
      runCleanups(this.state);
      this.state.handles.clear();
    }
  }
}

function runCleanups(s: HostState): void {
  for (const c of s.cleanups.splice(0)) {
    try { c(); } catch (e) { s.ctx.log.debug(`${s.who}: cleanup: ${(e as Error).message}`); }
  }
}
