// Resolve the library names uprobe sections use ("libc", "libssl") to files, on the host or inside a container's
// root (/proc/<pid>/root), where symlinks are followed as the container sees them: an absolute link target starts
// again at the container's root, never at the host's.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

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

/** mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * What a uprobe on `hostPath` (a file seen from `root`, '' = the host) really attaches to, as `dev:ino`. The
 * kernel attaches uprobes to the real inode under an overlay (d_real_inode), while stat() on overlayfs shows the
 * overlay's device: two containers of one image would look like two files and their events would come twice.
 * So for a file on an overlay mount (found in the mount table of the process whose root it is) the layer that
 * holds it (the first of upper, then the lower layers in order) is stat()ed instead. Layer paths that are not visible
 * from here (an overlay mounted in another mount namespace) fall back to the overlay's own identity.
 */
export function fileIdentity(root: string, hostPath: string): string {
  const st = statSync(hostPath);
  const own = `${st.dev}:${st.ino}`;
  const m = /^\/proc\/(\d+)\/root$/.exec(root);
  if (root && !m) return own;
  let info: string;
  try { info = readFileSync(m ? `/proc/${m[1]}/mountinfo` : '/proc/self/mountinfo', 'utf8'); } catch { return own; } // the process exited: the stat above stands
  const rel = root ? hostPath.slice(root.length) : hostPath;
  // the mount the file is on: the last (topmost) one with the longest mount point containing it
  let best: { point: string; mroot: string; fstype: string; opts: string } | undefined;
  for (const line of info.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const point = unescape(f[4] ?? '');
    if (!(point === '/' || rel === point || rel.startsWith(point + '/'))) continue;
    if (best && point.length < best.point.length) continue;
    const [fstype = '', , opts = ''] = post.split(' ');
    best = { point, mroot: unescape(f[3] ?? '/'), fstype, opts };
  }
  if (!best || best.fstype !== 'overlay') return own;
  const inside = `${best.mroot === '/' ? '' : best.mroot}${best.point === '/' ? rel : rel.slice(best.point.length)}`;
  const opt = (k: string) => best!.opts.split(',').find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
  const layers = [opt('upperdir'), ...(opt('lowerdir')?.split(':') ?? [])].filter((d): d is string => !!d);
  // as overlayfs looks a file up: the first layer that has it (a copied-up file keeps its lower inode number in
  // stat(), but the uprobe goes on the upper file)
  for (const d of layers) {
    let real;
    try { real = statSync(unescape(d) + inside); } catch { continue; } // not in this layer: the next one
    if (real.isFile()) return `${real.dev}:${real.ino}`;
  }
  return own;
}
