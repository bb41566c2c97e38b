// The BPF programs a test's own ig process loaded, compared by ID: tests must not be disturbed by (or wait for)
// the programs of other ig processes on the machine, which load the same gadgets with the same program names.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import { ownedProgIds, stillLoaded } from './daemon.js';

const TAP = join(fileURLToPath(new URL('.', import.meta.url)), 'prog-tap.js');

/**
 * Learns the programs of the ig processes started with `env` (runIgSync, IgProcess): every ID they held at any
 * time, written by prog-tap.ts preloaded into them. `ids()` after (or during) the runs.
 */
export class ProgTap {
  private readonly dir = mkdtempSync(join(tmpdir(), 'ig-prog-tap-'));
  readonly file = join(this.dir, 'ids');

  get env(): NodeJS.ProcessEnv {
    const inherited = process.env.NODE_OPTIONS ? `${process.env.NODE_OPTIONS} ` : '';
    return { NODE_OPTIONS: `${inherited}--import=${pathToFileURL(TAP).href}`, IG_TEST_PROG_TAP: this.file };
  }

  ids(): number[] {
    let text = '';
    try { text = readFileSync(this.file, 'utf8'); } catch { return []; } // no run loaded anything yet
    return [...new Set(text.split('\n').filter(Boolean).map(Number))].sort((a, b) => a - b);
  }

  cleanup(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

/** Wait until none of these program IDs is loaded (the kernel frees a program shortly after its last fd closes); returns those left. */
export async function waitUnloaded(ids: number[], timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = stillLoaded(ids);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface ProgShow { id: number; name?: string }

function progNames(ids: number[]): Map<number, string> {
  const names = new Map<number, string>();
  if (!ids.length) return names;
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return names;
  const want = new Set(ids);
  for (const p of JSON.parse(r.stdout || '[]') as ProgShow[]) if (want.has(p.id)) names.set(p.id, p.name ?? '');
  return names;
}

function linkedProgIds(): Set<number> {
  const r = spawnSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return new Set(r.status === 0 ? (JSON.parse(r.stdout || '[]') as { prog_id?: number }[]).map((l) => l.prog_id ?? 0) : []);
}

/**
 * Wait until process `pid` (our ig) holds an attached program named `name` (as bpftool shows it, up to 15
 * characters); returns the IDs of every program it holds then. Programs of the same name that other processes
 * hold do not count.
 */
export async function waitOwnProgram(pid: number, name: string, timeoutMs = 20000): Promise<number[]> {
  const want = name.slice(0, 15);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const held = ownedProgIds(pid);
    const names = progNames(held);
    const mine = held.filter((id) => names.get(id) === want);
    if (mine.length > 0) {
      const linked = linkedProgIds();
      if (mine.some((id) => linked.has(id))) return held;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`process ${pid} did not attach a program ${want} within ${timeoutMs} ms`);
}

/** IDs of the BPF maps process `pid` holds open (its fds). */
export function ownedMapIds(pid: number): number[] {
  const ids = new Set<number>();
  let fds: string[] = [];
  try { fds = readdirSync(`/proc/${pid}/fdinfo`); } catch { return []; } // process gone: owns nothing
  for (const fd of fds) {
    let info = '';
    try { info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'); } catch { continue; } // fd closed meanwhile
    const m = /^map_id:\s*(\d+)/m.exec(info);
    if (m) ids.add(Number(m[1]));
  }
  return [...ids];
}

/**
 * The value at `key` of the map named `name` (bpftool's name, up to 15 characters) that process `pid` holds, or
 * undefined while it has no such map or no such key. Reads the map of our own ig, not one of the same name of
 * another ig process.
 */
export function ownedMapValue(pid: number, name: string, key: Buffer): Buffer | undefined {
  const want = name.slice(0, 15);
  for (const id of ownedMapIds(pid)) {
    const show = spawnSync('bpftool', ['-j', 'map', 'show', 'id', String(id)], { encoding: 'utf8' });
    if (show.status !== 0 || (JSON.parse(show.stdout || '{}') as { name?: string }).name !== want) continue;
    const r = spawnSync('bpftool', ['-j', 'map', 'lookup', 'id', String(id), 'key', ...[...key].map(String)], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    const v = (JSON.parse(r.stdout || '{}') as { value?: string[] }).value;
    return v ? Buffer.from(v.map((b) => Number(b))) : undefined;
  }
  return undefined;
}
