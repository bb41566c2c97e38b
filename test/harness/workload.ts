// Helpers the topper/profiler/snapshot/traceloop tests use to make kernel activity and to watch ig: C programs built at test time, a pseudo
// terminal (script(1)) for TTY output, loop devices for block I/O.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IG_MAIN } from './ig.js';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compile a C program with gcc; returns its path, or throws with the compiler's message. */
export function compileC(dir: string, name: string, source: string, flags: string[] = []): string {
  const src = join(dir, `${name}.c`);
  const out = join(dir, name);
  writeFileSync(src, source);
  const r = spawnSync('gcc', [...flags, '-o', out, src], { encoding: 'utf8' });
  if (r.error) throw new Error(`gcc: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  return out;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Run ig with stdout on a pseudo terminal (script from util-linux); returns what the terminal showed. */
export function runIgInPty(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): { code: number | null; output: string } {
  const cmd = [process.execPath, IG_MAIN, ...args].map(shellQuote).join(' ');
  const r = spawnSync('script', ['-q', '-e', '-c', cmd, '/dev/null'], { encoding: 'utf8', timeout: opts.timeoutMs ?? 60000, env: { ...process.env, ...opts.env } });
  if (r.error) throw new Error(`script: ${r.error.message}`);
  return { code: r.status, output: r.stdout };
}

// Programs: see owned-progs.ts (by the ids our own ig holds, never by names machine-wide).

export interface LoopDevice { path: string; major: number; minor: number; detach: () => void }

/** A loop device over a fresh sparse file of `sizeMiB`; detach() removes both. */
export function makeLoopDevice(dir: string, sizeMiB = 32): LoopDevice {
  const img = join(dir, 'loop.img');
  const t = spawnSync('truncate', ['-s', `${sizeMiB}M`, img], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`truncate: ${t.stderr}`);
  const r = spawnSync('losetup', ['-f', '--show', img], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`losetup: ${r.stderr.trim() || r.error?.message}`);
  const path = r.stdout.trim();
  const name = path.replace('/dev/', '');
  const [major, minor] = spawnSync('cat', [`/sys/block/${name}/dev`], { encoding: 'utf8' }).stdout.trim().split(':').map(Number) as [number, number];
  let done = false;
  return {
    path, major, minor,
    detach: () => {
      if (done) return;
      done = true;
      spawnSync('losetup', ['-d', path]);
      rmSync(img, { force: true });
    },
  };
}

/** Inode of the network namespace of this process (as snapshot/trace gadgets report netns_id). */
export function ownNetns(): number {
  return Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))![1]);
}

/** Pids of every process now (from /proc). */
export function procPids(): Set<number> {
  return new Set(readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number));
}

export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0 && (cmd.startsWith('/') ? existsSync(cmd) : true);
}
