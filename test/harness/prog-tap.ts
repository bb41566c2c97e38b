// Preloaded into an ig process by ProgTap (owned-progs.ts) through NODE_OPTIONS=--import: writes the IDs of the BPF
// programs this process holds to $IG_TEST_PROG_TAP, so a test learns exactly which kernel objects ITS ig loaded
// (never the machine's: other ig users load programs of the same names at the same time). It looks right after
// every call of the native addon that can load or attach (a snapshot gadget holds its programs for a few ms only,
// too short to catch from outside), and every 50 ms besides.
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';

const out = process.env.IG_TEST_PROG_TAP;
const seen = new Set<number>();

function scan(): void {
  let fds: string[] = [];
  try { fds = readdirSync('/proc/self/fdinfo'); } catch { return; } // no procfs: nothing to learn
  const fresh: number[] = [];
  for (const fd of fds) {
    let info = '';
    try { info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'); } catch { continue; } // closed meanwhile
    const m = /^prog_id:\s*(\d+)/m.exec(info);
    if (m && !seen.has(Number(m[1]))) { seen.add(Number(m[1])); fresh.push(Number(m[1])); }
  }
  if (fresh.length) appendFileSync(out!, fresh.map((id) => `${id}\n`).join(''));
}

// The addon's calls that make programs exist (load, attach, raw filters...): matched by name, not by a list that
// would go stale as the addon grows; the hot paths (reads, drains) do not match and are not slowed.
const LOADS = /load|attach|prog|open|create/i;

if (out) {
  type Dlopen = (module: { exports: Record<string, unknown> }, filename: string, flags?: number) => void;
  const proc = process as unknown as { dlopen: Dlopen };
  const dlopen = proc.dlopen;
  proc.dlopen = (...args: Parameters<Dlopen>) => {
    dlopen.apply(process, args); // as called: an explicit undefined flags argument is refused
    const [module, filename] = args;
    if (!filename.endsWith('ig_native.node')) return;
    // The addon's exports may be read-only properties: hand out a copy whose loading calls are followed by a scan.
    const orig = module.exports;
    const copy: Record<string, unknown> = {};
    for (const k of Object.getOwnPropertyNames(orig)) {
      const v = orig[k];
      copy[k] = typeof v === 'function' && LOADS.test(k)
        ? function (this: unknown, ...args: unknown[]) { try { return (v as (...a: unknown[]) => unknown).apply(this, args); } finally { scan(); } }
        : v;
    }
    module.exports = copy;
  };
  setInterval(scan, 50).unref();
}
