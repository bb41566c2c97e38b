// Helpers for the src/bpf tests: compile test BPF programs, find the repo, inspect the kernel.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mountBpfFilesystems } from './mounts.js';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'native', 'binding.gyp')) && existsSync(join(dir, 'src', 'bpf', 'testdata'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root from ' + fileURLToPath(import.meta.url));
}

export const repoRoot = findRepoRoot();
export const testdataDir = join(repoRoot, 'src', 'bpf', 'testdata');

export const isRoot = process.getuid?.() === 0;
/** Reason to skip kernel tests, or false. */
export const skipReason: string | false = !isRoot
  ? 'needs root'
  : !existsSync(join(repoRoot, 'native', 'build', 'Release', 'ig_native.node'))
    ? 'native addon not built (npm run build:native)'
    : false;

/** include/gadget/amd64/vmlinux.h, generated from the running kernel's BTF when absent. */
export function ensureVmlinux(): string {
  const dir = join(repoRoot, 'include', 'gadget', 'amd64');
  const file = join(dir, 'vmlinux.h');
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], {
    maxBuffer: 256 << 20,
  });
  const tmp = `${file}.tmp.${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file); // atomic: concurrent test files may race here
  return file;
}

let buildDir: string | undefined;
const compiled = new Map<string, string>();

/** Compile src/bpf/testdata/<name>.bpf.c into a temp dir (once per process); returns the .o path. */
export function compileBpf(name: string): string {
  const hit = compiled.get(name);
  if (hit) return hit;
  ensureVmlinux();
  buildDir ??= mkdtempSync(join(tmpdir(), 'ig-bpf-test-'));
  const out = join(buildDir, `${name}.bpf.o`);
  execFileSync('clang-16', [
    '-target', 'bpf', '-g', '-O2', '-D__TARGET_ARCH_x86',
    `-I${join(repoRoot, 'include')}`, `-I${join(repoRoot, 'include', 'gadget', 'amd64')}`,
    '-I/usr/include/x86_64-linux-gnu',
    '-c', join(testdataDir, `${name}.bpf.c`), '-o', out,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  compiled.set(name, out);
  return out;
}

export function removeBuildDir(): void {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  buildDir = undefined;
  compiled.clear();
}

export function setupKernel(): void {
  mountBpfFilesystems();
}

/** Names of every BPF program loaded in the kernel right now. */
export function loadedProgramNames(): string[] {
  return loadedPrograms().map((p) => p.name ?? '');
}

function loadedPrograms(): Array<{ id: number; name?: string }> {
  const out = execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out || '[]') as Array<{ id: number; name?: string }>;
}

/** IDs of the programs some live process holds an fd of (program and link fds name prog_id in fdinfo). */
export function heldProgramIds(): Set<number> {
  const held = new Set<number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fdinfo`); } catch { continue; } // the process is gone
    for (const fd of fds) {
      let info: string;
      try { info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'); } catch { continue; } // the fd closed meanwhile
      const m = /^prog_id:\s+(\d+)$/m.exec(info);
      if (m) held.add(Number(m[1]));
    }
  }
  return held;
}

/** IDs of the programs this process holds (its own fds): exactly what this test loaded. */
export function ownProgramIds(): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    let info: string;
    try { info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'); } catch { continue; } // the fd closed meanwhile
    const m = /^prog_id:\s+(\d+)$/m.exec(info);
    if (m) ids.add(Number(m[1]));
  }
  return [...ids].sort((x, y) => x - y);
}

/** Which of these program IDs are still loaded. */
export function stillLoadedIds(ids: number[]): number[] {
  const loaded = new Set(loadedPrograms().map((p) => p.id));
  return ids.filter((id) => loaded.has(id));
}

/**
 * Names of loaded programs starting with one of `prefixes` that no live process holds: what a test left behind.
 * Another run of these tests (another session on this machine) loads programs of the same names meanwhile; those
 * are held by that run's process and are not ours.
 */
export function orphanedPrograms(prefixes: string[]): string[] {
  const named = loadedPrograms().filter((p) => prefixes.some((x) => (p.name ?? '').startsWith(x)));
  if (!named.length) return [];
  const held = heldProgramIds();
  return named.filter((p) => !held.has(p.id)).map((p) => p.name ?? '');
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, stepMs = 10): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** Make `n` getppid() syscalls from this thread (process.ppid is not cached by Node). */
export function getppidLoop(n: number): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += process.ppid;
  if (s < 0) console.log(s);
}

/** Sum of a per-CPU u64 value. */
export function sumPerCpuU64(value: Buffer, stride = 8): bigint {
  let s = 0n;
  for (let off = 0; off + 8 <= value.length; off += stride) s += value.readBigUInt64LE(off);
  return s;
}
