// bin/ig's check for sources newer than the last build (a `find` over ~700 files: a few ms on a quiet machine,
// 40-70 ms on a loaded one) runs beside node's start instead of before it: the launcher hands the verdict over on
// a pipe (IG_SOURCE_CHECK_FD), read here before the bundle runs. A changed source is announced and
// scripts/setup.sh runs first, or IG_NO_SETUP=1 refuses: what the launcher did itself before.
import { spawnSync } from 'node:child_process';
import { closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SOURCE_CHECK_ENV = 'IG_SOURCE_CHECK_FD';

/**
 * Wait for the launcher's verdict and act on it. Returns true when setup rebuilt the tree (the bundle must be read
 * again); exits the process when rebuilding is refused or fails.
 */
export function settleSourceCheck(root: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const fdText = env[SOURCE_CHECK_ENV];
  if (fdText === undefined) return false;
  delete env[SOURCE_CHECK_ENV]; // ours alone: a process ig starts must not read a descriptor it does not own
  const fd = Number(fdText);
  if (!Number.isInteger(fd) || fd < 3) return false;
  let changed: string;
  try {
    changed = readFileSync(fd, 'utf8').split('\n')[0]!.trim(); // blocks until find has finished
  } catch {
    return false; // no verdict to read (the descriptor is not open): run what is built, as with no check at all
  } finally {
    try { closeSync(fd); } catch { /* already closed: nothing to release */ }
  }
  if (changed === '') return false;
  const what = `${changed.startsWith(`${root}/`) ? changed.slice(root.length + 1) : changed} changed since the last build`;
  if (env['IG_NO_SETUP'] === '1') {
    process.stderr.write(`ig: the build is out of date (${what}) and IG_NO_SETUP=1 forbids rebuilding: run ${root}/scripts/setup.sh, or unset IG_NO_SETUP\n`);
    process.exit(1);
  }
  process.stderr.write(`ig: ${what}: running scripts/setup.sh first (installs missing Debian and npm packages, compiles, rebuilds changed gadget images; IG_NO_SETUP=1 to refuse)\n`);
  const setup = join(root, 'scripts', 'setup.sh');
  const r = spawnSync(setup, [], { stdio: ['inherit', 2, 2] });
  if (r.error) {
    process.stderr.write(`ig: cannot run ${setup}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}\n`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
  return true;
}
