// The package's declarations (package.json "exports" → "types"): the public API and nothing of ig's internals, so
// a consumer's compiler reads two small files. index.ts implements it and checks it matches at compile time.
import type { RunGadget } from './api.js';

export type { GadgetEvents, GadgetEvent, EventBase, EventBatch, GadgetRun, LostEvents, RunGadget, RunGadgetOptions } from './api.js';

/**
 * Run a gadget and iterate its events: `for await (const e of runGadget('trace_open', { host: true })) …`.
 * See docs/library.md.
 */
export declare const runGadget: RunGadget;
