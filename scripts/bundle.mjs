// Bundle the ig and gadgetctl commands with esbuild (after tsc has type-checked everything). The output sits at
// dist/src/bundle/, as deep as every dist/src/<dir>/ module, so code that finds the repository root from
// import.meta.url works unchanged.
// - ig.cjs + ig-start.cjs (what bin/ig runs): ig as ONE CommonJS file that ig-start.cjs compiles with V8's code
//   cache (src/launcher/code-cache.ts). Commander, which every command loads, is inside; other npm packages stay in
//   node_modules, and the modules other commands import lazily are only evaluated when those commands run.
// - ig.mjs, gadgetctl.mjs: one ESM module graph split into chunks (gadgetctl's launcher; ig.mjs is the same
//   ig without the code cache, kept for the start-up benchmark's comparison).
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const outdir = 'dist/src/bundle';
rmSync(outdir, { recursive: true, force: true }); // also drops code caches of the previous bundle
await build({
  entryPoints: { ig: 'src/cli/main.ts', gadgetctl: 'src/cli/gadgetctl/main.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir,
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});

const deps = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies);
const cjs = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outdir,
  outExtension: { '.js': '.cjs' },
  // CommonJS has no import.meta: the bundle's own file URL stands in (the same directory depth as before).
  define: { 'import.meta.url': '__ig_import_meta_url' },
  banner: { js: '"use strict"; var __ig_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'warning',
};
// gadgetctl.cjs + gadgetctl-start.cjs (what bin/gadgetctl runs): gadgetctl the same way, with its own caches.
await build({ ...cjs, entryPoints: { ig: 'src/cli/main.ts', gadgetctl: 'src/cli/gadgetctl/main.ts' }, external: deps.filter((d) => d !== 'commander').flatMap((d) => [d, `${d}/*`]) });
// Node 20 loses a vm.Script's dynamic-import loader when the script comes from a code cache ("A dynamic import
// callback was not specified": every WASM gadget, OTel and Kubernetes run failed from the second run on), so the
// bundle's import() calls go through the launcher's own import() (ig-start.cjs: a file node loaded itself).
// ASCII only (the few other characters, in comments and one regular expression, as \u escapes, which mean the same
// there): the launcher then reads the 1 MB file as latin1, a copy, where decoding UTF-8 took 2.5-6 ms before the
// first event (src/launcher/code-cache.ts).
const ascii = (t) => t.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
for (const name of ['ig', 'gadgetctl']) {
  const file = `${outdir}/${name}.cjs`;
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(/(?<![\w$.])import\((?=["'])/g, '__ig_import(');
  writeFileSync(file, ascii(rewritten.replace('var __ig_import_meta_url', 'var __ig_import = globalThis.__igImport || ((s) => import(s)); var __ig_import_meta_url')));
}
await build({ ...cjs, entryPoints: { 'ig-start': 'src/launcher/ig.ts', 'gadgetctl-start': 'src/launcher/gadgetctl.ts' }, packages: 'external' });
