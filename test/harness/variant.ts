// Build a variant of an official gadget (its sources plus extra C code) into a throwaway image store, to
// check how ig reports hooks this kernel lacks. Returns the env that points ig at that store.
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runIgSync } from './ig.js';

export interface Variant { env: NodeJS.ProcessEnv; image: string; cleanup(): void }

export function buildVariant(gadget: string, extraC: string): Variant {
  const base = mkdtempSync(join(tmpdir(), `ig-variant-${gadget}-`));
  const dir = join(base, 'src');
  cpSync(join(repoRoot(), 'gadgets', gadget), dir, { recursive: true, filter: (s) => !s.includes(`${gadget}/test`) });
  appendFileSync(join(dir, 'program.bpf.c'), `\n${extraC}\n`);
  const env = { IG_OCI_STORE: join(base, 'store') };
  const image = `${gadget}_variant`;
  const r = runIgSync(['image', 'build', dir, '-t', image], { env });
  if (r.code !== 0) {
    rmSync(base, { recursive: true, force: true });
    throw new Error(`building ${image}: ${r.stderr}`);
  }
  return { env, image, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}
