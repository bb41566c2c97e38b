// One instantiated guest module and the only way to run its code: call(). Every call runs under a deadline
// (V8 terminates a guest that does not return, through node:vm's or ig's own watchdog) and turns traps, host-side ABI
// violations, proc_exit and stack overflows into one-line WasmErrors. After the first failure the guest is
// dead: later calls throw the same error without entering it.
import vm from 'node:vm';
import { GuestAbuse, WasmError } from './errors.js';
import { capMemory, mib, PAGE } from './binary.js';
import { GuestMemory } from './memory.js';
import { DEADLINE_CODE, DeadlineSlot } from '../../bpf/deadline.js';

/** The version of the host API this operator implements (upstream's apiVersion). */
export const API_VERSION = 1;
const WASI_MODULE = 'wasi_snapshot_preview1';

export interface GuestLimits {
  memoryBytes: number;
  timeoutMs: number;
}

export type HostFunctions = Record<string, (...args: never[]) => unknown>;

export class WasmGuest {
  private instance!: WebAssembly.Instance;
  private dead?: WasmError;
  private slot?: DeadlineSlot;
  /** The start calls' deadline (see load's fastStart); released by endStart(). */
  private startSlot?: DeadlineSlot;
  private depth = 0;
  private readonly vmCtx = vm.createContext({ fn: null as null | (() => unknown) });
  private readonly script = new vm.Script('fn()', { filename: 'wasm-guest-call' });
  private readonly capPages: number;
  /** Names of the host functions the module imports from "ig" (for `ig image inspect` style reports). */
  upcalls: string[] = [];

  private constructor(readonly who: string, private readonly limits: GuestLimits, readonly memory: GuestMemory) {
    this.capPages = Math.max(1, Math.floor(limits.memoryBytes / PAGE));
  }

  /**
   * Compile, check imports, instantiate (running the reactor's _initialize) and check gadgetAPIVersion.
   * `host` holds the "ig" functions, which reach guest memory through `memory` (bound here); WASI preview 1
   * is provided when the module imports it.
   */
  static async load(bin: Buffer, who: string, limits: GuestLimits, host: HostFunctions, memory: GuestMemory, fastStart = false): Promise<WasmGuest> {
    const g = new WasmGuest(who, limits, memory);
    try {
      return await g.loadInto(bin, who, host, fastStart);
    } catch (e) {
      g.endStart();
      throw e;
    }
  }

  /**
   * fastStart: the start calls (_initialize, gadgetAPIVersion, then the operator's gadgetInit until endStart())
   * run under the process watchdog instead of node:vm's timeout, which starts and joins a thread per call: on a
   * loaded machine each of those cost 5-15 ms of the module's start (target: 50 ms in all).
   */
  private async loadInto(bin: Buffer, who: string, host: HostFunctions, fastStart: boolean): Promise<WasmGuest> {
    const g = this;
    if (fastStart) g.startSlot = DeadlineSlot.open(who, 'its start (_initialize, gadgetAPIVersion or gadgetInit)', g.limits.timeoutMs);
    let mod: WebAssembly.Module;
    try {
      mod = new WebAssembly.Module(capMemory(bin, g.capPages, who) as Uint8Array<ArrayBuffer>);
    } catch (e) {
      if (e instanceof WasmError) throw e;
      throw new WasmError(`${who}: invalid WebAssembly: ${firstLine((e as Error).message)}`);
    }
    let wantsWasi = false;
    for (const imp of WebAssembly.Module.imports(mod)) {
      if (imp.module === 'ig' && imp.kind === 'function' && Object.hasOwn(host, imp.name)) { g.upcalls.push(imp.name); continue; }
      if (imp.module === WASI_MODULE && imp.kind === 'function') { wantsWasi = true; continue; }
      throw new WasmError(`${who}: imports ${imp.kind} ${imp.module}.${imp.name}, which ig does not provide (host API version ${API_VERSION})`);
    }
    const imports: WebAssembly.Imports = { ig: host as unknown as WebAssembly.ModuleImports };
    let wasi: { initialize(i: WebAssembly.Instance): void } | undefined;
    if (wantsWasi) {
      const w = await newWasi();
      Object.assign(imports, w.getImportObject());
      wasi = w;
    }
    const exp = WebAssembly.Module.exports(mod);
    if (!exp.some((e) => e.name === 'memory' && e.kind === 'memory')) throw new WasmError(`${who}: does not export its memory as "memory"`);
    // Instantiated here, in ig's own context: an instance made inside the vm context of call() pays a context
    // switch on every host call (~4x slower host calls). A wasm start function would run unguarded; _initialize
    // (what wasm32-wasi reactors use) runs under the deadline.
    try {
      g.instance = new WebAssembly.Instance(mod, imports);
    } catch (e) {
      throw g.describe(e, 'instantiation');
    }
    g.memory.bind(g.instance.exports['memory'] as WebAssembly.Memory);
    // Reactors (wasm32-wasi libraries) run their constructors in _initialize, as upstream's WithStartFunctions.
    // node:wasi refuses every WASI call until initialize() (or start()) ran, also for a module that exports
    // neither (a Rust cdylib for wasm32-wasi, as upstream's Rust test modules): initialize() then only binds the
    // memory. A module exporting _start (a command) is not one ig can call into later; it is left alone.
    g.call('_initialize', () => {
      if (wasi && typeof g.instance.exports['_start'] !== 'function') wasi.initialize(g.instance);
      else if (typeof g.instance.exports['_initialize'] === 'function') (g.instance.exports['_initialize'] as () => void)();
    });
    const version = g.export('gadgetAPIVersion');
    if (!version) throw new WasmError(`${who}: does not export gadgetAPIVersion`);
    const v = g.call('gadgetAPIVersion', () => version());
    if (Number(v) !== API_VERSION) throw new WasmError(`${who}: built for gadget API version ${String(v)}, this ig supports ${API_VERSION}`);
    return g;
  }

  export(name: string): ((...a: unknown[]) => unknown) | undefined {
    const f = this.instance.exports[name];
    return typeof f === 'function' ? (f as (...a: unknown[]) => unknown) : undefined;
  }

  get failure(): WasmError | undefined {
    return this.dead;
  }

  /**
   * Run guest code. Nested calls (a host function emitting to a data source the guest subscribes to) run
   * inside the outer call's deadline.
   */
  call<T>(what: string, fn: () => T): T {
    const start = this.startSlot;
    if (start) return this.guarded(what, fn, () => start.call(fn));
    return this.guarded(what, fn, () => {
      this.vmCtx.fn = fn;
      try {
        return this.script.runInContext(this.vmCtx, { timeout: this.limits.timeoutMs }) as T;
      } finally {
        this.vmCtx.fn = null;
      }
    });
  }

  /**
   * The checks around one entry into the guest, whatever stops it at its deadline (`run`): a dead guest is not
   * entered again, nested entries (a host call that calls back) run as they are, memory past the cap and any
   * failure make the guest dead with one line.
   */
  private guarded<T>(what: string, fn: () => T, run: () => T): T {
    if (this.dead) throw this.dead;
    if (this.depth > 0) return fn();
    this.depth++;
    try {
      const r = run();
      if (this.memory.size > this.limits.memoryBytes) {
        throw new WasmError(`${this.who}: grew its memory to ${mib(this.memory.size / PAGE)} in ${what}, past the limit of ${mib(this.capPages)} (--wasm-memory-limit)`);
      }
      return r;
    } catch (e) {
      this.dead = this.describe(e, what);
      throw this.dead;
    } finally {
      this.depth--;
    }
  }

  /**
   * Run a data callback under the process watchdog (src/bpf/deadline.ts) instead of node:vm: no thread per entry. A
   * guest stuck past the deadline is stopped by V8 and this throws the same one-line WasmError as call().
   * Without a slot (more than 64 guests in one process) this is call().
   */
  fast<T>(what: string, fn: () => T): T {
    const slot = this.slot;
    if (!slot) return this.call(what, fn);
    return this.guarded(what, fn, () => slot.call(fn));
  }

  /** Use the process watchdog for data callbacks (see fast()). */
  useWatchdog(): void {
    this.slot ??= DeadlineSlot.open(this.who, 'dataSourceCallback', this.limits.timeoutMs);
  }

  /** The start is over: later lifecycle calls use node:vm's deadline. */
  endStart(): void {
    this.startSlot?.release();
    this.startSlot = undefined;
  }

  /** The guest is done: free its watchdog slot. */
  close(): void {
    this.endStart();
    this.slot?.release();
    this.slot = undefined;
  }

  describe(e: unknown, what: string): WasmError {
    if (e instanceof WasmError) return e;
    const err = e as Error & { code?: string };
    if (err?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT' || err?.code === DEADLINE_CODE) {
      return new WasmError(`${this.who}: ${what} did not return within ${this.limits.timeoutMs} ms and was stopped (--wasm-timeout)`);
    }
    if (e instanceof GuestAbuse) return new WasmError(`${this.who}: in ${what}: ${e.message}`);
    if (e instanceof WebAssembly.RuntimeError) {
      const atCap = this.memory.size >= this.capPages * PAGE;
      const note = atCap ? ` (its memory is at the limit of ${mib(this.capPages)}, --wasm-memory-limit)` : '';
      return new WasmError(`${this.who}: trapped in ${what}: ${firstLine(err.message)}${note}`);
    }
    if (e instanceof RangeError && /call stack/.test(err.message)) return new WasmError(`${this.who}: overflowed its stack in ${what}`);
    if (e instanceof WebAssembly.LinkError || e instanceof WebAssembly.CompileError) return new WasmError(`${this.who}: ${firstLine(err.message)}`);
    // node:wasi's proc_exit unwinds with a non-Error value or an Error carrying the exit code.
    const code = (e as { code?: unknown } | undefined)?.code;
    if (typeof e === 'symbol' || typeof code === 'number' || /proc_exit|exit/i.test(String(err?.message ?? e))) {
      return new WasmError(`${this.who}: called proc_exit in ${what}`);
    }
    return new WasmError(`${this.who}: failed in ${what}: ${firstLine(String(err?.message ?? e))}`);
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/^WebAssembly\.\w+\(\): /, '');
}

/** node:wasi prints an ExperimentalWarning when first used; ig's stderr is for people, so that one is hidden. */
async function newWasi(): Promise<{ getImportObject(): Record<string, unknown>; initialize(i: WebAssembly.Instance): void }> {
  const orig = process.emitWarning;
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    if (String((w as Error)?.message ?? w).includes('WASI')) return;
    (orig as (...a: unknown[]) => void).call(process, w, ...rest);
  }) as typeof process.emitWarning;
  try {
    const { WASI } = await import('node:wasi');
    // The guest's stdout goes to ig's stderr: stdout carries the gadget's output.
    return new WASI({ version: 'preview1', args: [], env: {}, stdout: 2, stderr: 2, returnOnExit: true }) as never;
  } finally {
    process.emitWarning = orig;
  }
}
