// What bin/ig runs (bundled by scripts/bundle.mjs into dist/src/bundle/ig-start.cjs): the ig bundle (ig.cjs) with
// V8's code cache (src/launcher/code-cache.ts; where it lives: cacheFileFor).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheFileFor, runWithCodeCache } from './code-cache.js';
import { settleSourceCheck } from './source-check.js';
import { deferTierUp } from './tier-up.js';

// bin/ig kept NODE_EXTRA_CA_CERTS from node's start (IG_DEFERRED_EXTRA_CA_CERTS, src/tls/extra-ca.ts: ig's TLS
// clients add those CAs themselves); the processes ig starts get the variable back. A literal name: importing
// src/tls here would load node:tls before the bundle.
const deferredCas = process.env['IG_DEFERRED_EXTRA_CA_CERTS'];
if (deferredCas) process.env['NODE_EXTRA_CA_CERTS'] = deferredCas;

// In the bundle import.meta.url is the bundle's own file (scripts/bundle.mjs defines it).
const dir = dirname(fileURLToPath(import.meta.url));
// The bundle's import() calls land here (scripts/bundle.mjs): a vm.Script from a code cache has no working loader
// of its own on Node 20. Resolved from this directory, as the bundle's own imports would be.
(globalThis as { __igImport?: (s: string) => Promise<unknown> }).__igImport = (s) => import(s);
// before the bundle compiles: its code cache is only valid under the flags it was made with
deferTierUp(process.argv.slice(2));
runWithCodeCache({
  file: join(dir, 'ig.cjs'),
  cacheFile: cacheFileFor(process.argv.slice(2), dir, process.env),
  // bin/ig's source check ran beside node's start and the compile; its verdict is read before anything runs
  beforeRun: () => settleSourceCheck(join(dir, '..', '..', '..')),
});
