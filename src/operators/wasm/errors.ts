// Errors of a WASM guest. Every one ends the run with one line: "wasm module <name>: <what it did>".
import { GadgetError } from '../../gadget/context.js';

export class WasmError extends GadgetError {}

/**
 * Thrown by a host function when the guest broke the ABI (a pointer outside its memory, an unusable error
 * out-pointer). It unwinds through the guest's frames to the guarded call, which turns it into a WasmError.
 */
export class GuestAbuse extends Error {}
