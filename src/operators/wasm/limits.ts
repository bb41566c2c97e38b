// Process-wide limits for WASM guests (--wasm-memory-limit, --wasm-timeout), set by the command before a run
// is assembled: the image operator's factory takes only the context and the layer.
export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 5000;

export interface WasmLimits {
  /** Largest guest memory in bytes (default 256 MiB). */
  memoryLimitBytes: number;
  /** How long one entry into the guest may run (default 5 s). */
  timeoutMs: number;
}

const current: WasmLimits = { memoryLimitBytes: DEFAULT_MEMORY_LIMIT, timeoutMs: DEFAULT_TIMEOUT_MS };

export function setWasmLimits(l: Partial<WasmLimits>): void {
  Object.assign(current, l);
}

export function wasmLimits(): WasmLimits {
  return { ...current };
}
