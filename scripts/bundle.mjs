// Bundle the ig and gadgetctl commands with esbuild (after tsc has type-checked everything): one ESM module graph
// split into chunks, so `ig run` reads a handful of files instead of ~180 and other commands' code stays in chunks
// loaded only by them. npm packages stay external (they are loaded from node_modules, lazily where our code
// imports them lazily: OpenTelemetry, gRPC, Kubernetes). The output sits at dist/src/bundle/, as deep as every
// dist/src/<dir>/ module, so code that finds the repository root from import.meta.url works unchanged.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = 'dist/src/bundle';
rmSync(outdir, { recursive: true, force: true });
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
