// ig as a library: `import { runGadget } from 'ig'`. The package's only public entry (package.json "exports";
// its declarations are public.ts's).
import type * as Public from './public.js';
import { runGadget as run } from './run.js';

export type { GadgetEvents, GadgetEvent, EventBase, EventBatch, GadgetRun, LostEvents, RunGadget, RunGadgetOptions } from './api.js';

/**
 * Run a gadget and iterate its events: `for await (const e of runGadget('trace_open', { host: true })) …`.
 * See docs/library.md.
 */
export const runGadget: typeof Public.runGadget = run;
