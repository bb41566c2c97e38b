// A project outside the repository that depends on ig as a package: node_modules/ig is a link to this checkout,
// so `import ... from 'ig'` goes through package.json "exports" exactly as for an installed package.
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../harness/ig.js';
import { tempDir } from '../harness/workload.js';

export const TSC = join(repoRoot(), 'node_modules', 'typescript', 'bin', 'tsc');

/** The library's declarations (setup builds them; built here when a plain `tsc -p tsconfig.json` came after). */
export function ensureDeclarations(): void {
  if (existsSync(join(repoRoot(), 'dist', 'types', 'src', 'lib', 'public.d.ts'))) return;
  const r = spawnSync(process.execPath, [TSC, '-p', join(repoRoot(), 'tsconfig.lib.json')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.lib.json: ${r.stdout}${r.stderr}`);
}

export function consumerProject(prefix: string): { dir: string; cleanup: () => void } {
  const t = tempDir(prefix);
  mkdirSync(join(t.dir, 'node_modules'));
  symlinkSync(repoRoot(), join(t.dir, 'node_modules', 'ig'), 'dir');
  writeFileSync(join(t.dir, 'package.json'), JSON.stringify({ name: 'ig-consumer', private: true, type: 'module' }));
  return t;
}

/** Type-check the project's .ts files as a strict NodeNext consumer would; returns tsc's exit code and output. */
export function typeCheck(dir: string, files: string[]): { code: number | null; output: string } {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
      types: ['node'], typeRoots: [join(repoRoot(), 'node_modules', '@types')],
    },
    files,
  }));
  const r = spawnSync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', cwd: dir });
  return { code: r.status, output: r.stdout + r.stderr };
}
