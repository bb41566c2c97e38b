// Owner of a native deadline slot (the addon's one watchdog thread): src/bpf is the only caller of the addon.
// The deadline for a module's data callbacks without a per-batch thread. Guarding every batch with node:vm's
// timeout starts a watchdog thread per call (~50 µs of CPU; at 50 records per batch that is ~1 µs per event).
// Here one native thread, started once per process, watches a slot per guest (native/src/deadline.cc): the
// batch runs through deadlineCall, which arms the slot before and disarms it after (two uncontended mutex
// sections). A callback past its deadline is stopped by V8 (TerminateExecution, as node:vm does) and
// deadlineCall throws an Error with code IG_WASM_DEADLINE, so the run fails with one line and stops in order
// (programs detached, TC filters removed, other daemon instances untouched). Only a guest V8 cannot stop within
// twice the deadline (blocked in a host call) gets the last-resort line and SIGKILL.
import { native } from './native.js';

export const DEADLINE_CODE = 'IG_WASM_DEADLINE';

/** One guest's slot; release() when the guest is done. */
export class DeadlineSlot {
  private constructor(readonly slot: number) {}

  /** undefined when all 64 slots are taken (the caller then uses node:vm's deadline). */
  static open(who: string, what: string, timeoutMs: number): DeadlineSlot | undefined {
    const line = `Error: ${who}: ${what} did not return within ${timeoutMs} ms and could not be stopped; ig was killed (--wasm-timeout)\n`;
    const slot = native.deadlineOpen(timeoutMs, line);
    return slot < 0 ? undefined : new DeadlineSlot(slot);
  }

  /** fn() under the deadline; throws Error{code: DEADLINE_CODE} when V8 stopped it. */
  call<T>(fn: () => T): T {
    return native.deadlineCall(this.slot, fn);
  }

  release(): void {
    native.deadlineClose(this.slot);
  }
}
