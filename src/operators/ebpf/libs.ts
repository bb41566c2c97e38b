// Resolve the library names uprobe sections use ("libc", "libssl") to files, on the host or inside a container's
// root (/proc/<pid>/root), where symlinks are followed as the container sees them: an absolute link target starts
// again at the container's root, never at the host's.
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';

const DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
/** Host answers only: a container root (/proc/<pid>/root) may be another container's after pid reuse. */
const cache = new Map<string, string | undefined>();
/** As the kernel (MAXSYMLINKS): a loop of links ends the resolution. */
const MAX_LINKS = 40;

/**
 * `path` (absolute) resolved inside `root` with every symlink followed relative to `root`: the host path of the
 * file (`root` + the resolved path), or undefined when a component is missing or the links loop.
 */
export function resolveInRoot(root: string, path: string): string | undefined {
  if (!root) return existsSync(path) ? path : undefined;
  const todo = path.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '..') { done.pop(); continue; }
    const here = `${root}/${[...done, part].join('/')}`;
    let st;
    try { st = lstatSync(here); } catch { return undefined; } // a missing component: no such file in this root
    if (!st.isSymbolicLink()) { done.push(part); continue; }
    if (++links > MAX_LINKS) return undefined;
    const target = readlinkSync(here);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return `${root}/${done.join('/')}`;
}

/**
 * The file a uprobe section's library names: an absolute path as is, else the runtime soname (libc.so.6) in the
 * usual library directories, as seen from `root` ('' = the host).
 */
export function resolveLibrary(name: string, root = ''): string | undefined {
  if (name.startsWith('/')) return resolveInRoot(root, name);
  if (!root && cache.has(name)) return cache.get(name);
  let found: string | undefined;
  for (const d of DIRS) {
    const dir = resolveInRoot(root, d);
    if (!dir) continue;
    let entries: string[];
    try { entries = readdirSync(dir); } catch { continue; } // not a directory, or unreadable: try the next one
    // Prefer the runtime soname (libc.so.6) over a development symlink (libc.so).
    const hits = entries.filter((e) => e === `${name}.so` || e.startsWith(`${name}.so.`) || e === name).sort((a, b) => b.length - a.length);
    for (const h of hits) {
      found = root ? resolveInRoot(root, `${dir.slice(root.length)}/${h}`) : `${dir}/${h}`;
      if (found) break;
    }
    if (found) break;
  }
  if (!root) cache.set(name, found);
  return found;
}
