// Resolve the library names uprobe sections use ("libc", "libssl") to files on this host.
import { existsSync, readdirSync } from 'node:fs';

const DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
const cache = new Map<string, string | undefined>();

export function resolveLibrary(name: string, root = ''): string | undefined {
  if (name.startsWith('/')) return existsSync(root + name) ? root + name : undefined;
  const key = `${root}\0${name}`;
  if (cache.has(key)) return cache.get(key);
  let found: string | undefined;
  for (const d of DIRS) {
    const dir = root + d;
    if (!existsSync(dir)) continue;
    let entries: string[];
    try { entries = readdirSync(dir); } catch { continue; }
    // Prefer the runtime soname (libc.so.6) over a development symlink (libc.so).
    const hits = entries.filter((e) => e === `${name}.so` || e.startsWith(`${name}.so.`) || e === name).sort((a, b) => b.length - a.length);
    if (hits.length > 0) { found = `${dir}/${hits[0]}`; break; }
  }
  cache.set(key, found);
  return found;
}
