// What bin/gadgetctl runs (bundled by scripts/bundle.mjs into dist/src/bundle/gadgetctl-start.cjs): the gadgetctl
// bundle (gadgetctl.cjs) with V8's code cache, as ig-start.cjs runs ig's (src/launcher/code-cache.ts). The caches
// sit beside ig's, named gadgetctl-<command>.bin.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheFileFor, runWithCodeCache } from './code-cache.js';

const dir = dirname(fileURLToPath(import.meta.url));
// The bundle's import() calls land here (scripts/bundle.mjs): a vm.Script from a code cache has no working loader
// of its own on Node 20.
(globalThis as { __igImport?: (s: string) => Promise<unknown> }).__igImport = (s) => import(s);
const igCache = cacheFileFor(process.argv.slice(2), dir, process.env);
const state = runWithCodeCache({ file: join(dir, 'gadgetctl.cjs'), cacheFile: igCache && join(dirname(igCache), `gadgetctl-${basename(igCache)}`) });
// IG_TRACE_STARTUP=1: say whether the cache was used (as ig's start-up marks do).
if (process.env['IG_TRACE_STARTUP']) process.on('exit', () => process.stderr.write(`startup: gadgetctl cache-${state}\n`));
