// ig as a library: `import { runGadget } from 'ig'`. The package's only public entry (package.json "exports").
export { runGadget } from './run.js';
export type { GadgetEvents, GadgetEvent, EventBase, EventBatch, GadgetRun, LostEvents, RunGadget, RunGadgetOptions } from './api.js';
