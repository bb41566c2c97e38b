import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';

/** The package root: two levels above src/cli, or three above dist/src/cli. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try { readFileSync(join(d, 'package.json')); return d; } catch { d = dirname(d); }
  }
  return process.cwd();
}

export function igVersion(): string {
  try {
    return `v${JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).version as string}`;
  } catch {
    return 'v0.0.0-unknown';
  }
}

export function registerVersion(program: Command): void {
  program.command('version').description('Show the version of ig').action(() => {
    process.stdout.write(`${igVersion()}\n`);
  });
}
