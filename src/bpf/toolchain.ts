// Where the eBPF toolchain's programs are (clang, llvm-strip, cargo …): the first of their names found on PATH.
// Gadget image builds (src/oci) and ig's own helper objects (helper-object.ts) both ask here.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The path of the first of `names` on PATH (Debian installs versioned names, e.g. clang-16, first), or undefined. */
export function findTool(names: string[]): string | undefined {
  const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const n of names) for (const d of dirs) if (d && existsSync(path.join(d, n))) return path.join(d, n);
  return undefined;
}
