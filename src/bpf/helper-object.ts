// ig's own helper eBPF programs (the socket enricher's socket tracker, the process enricher's exe tracker): each
// is compiled once per source version into .build/bpf/ (scripts/setup.sh does it at install; a run compiles it
// when missing), keyed by a hash of its source and the gadget headers it includes, so an edited header rebuilds it.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTool } from './toolchain.js';

export interface HelperObjectSource {
  /** What errors call it ("socket tracker") and the object file's stem ("socket_tracker"). */
  readonly label: string;
  readonly stem: string;
  /** The .bpf.c file, relative to the repository root. */
  readonly source: string;
  /** The include/gadget headers it includes (part of the version hash). */
  readonly headers: readonly string[];
}

/** The checkout holding `source`: the compiled module and the bundle sit at different depths below it. */
function repoRootOf(h: HelperObjectSource): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, h.source))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`${h.label}: ${h.source} not found above ${fileURLToPath(import.meta.url)}`);
}

/** How the object is built: clang's flags (besides the include paths) and llvm-strip's. */
const CLANG_FLAGS = ['-target', 'bpf', '-g', '-O2', '-D__TARGET_ARCH_x86'];
/**
 * Drop the DWARF sections, as gadget images are built (src/oci/build.ts): -g is what makes clang emit .BTF and
 * .BTF.ext, which libbpf and bpftool need and which stay; the DWARF (≈85 % of the file) only cost memory, since every
 * run reads the whole object into a Buffer and libbpf parses it (the exe tracker's 0.86 MB object was 1.8 MiB of
 * ArrayBuffers at ig's start-up peak).
 */
const STRIP_FLAGS = ['-g'];
/** Part of the version hash, so that objects built another way (before their DWARF was stripped) are not reused. */
const RECIPE = `clang-16 ${CLANG_FLAGS.join(' ')}; llvm-strip ${STRIP_FLAGS.join(' ')}\n`;

function stripDebugInfo(obj: string): void {
  const strip = findTool(['llvm-strip-16', 'llvm-strip']);
  if (!strip) throw new Error('llvm-strip not found: install llvm-16 (scripts/deps/apt.txt)');
  execFileSync(strip, [...STRIP_FLAGS, obj], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The compiled object's path, built now if this source version has not been built yet. */
export function helperObjectPath(h: HelperObjectSource): string {
  const root = repoRootOf(h);
  const hash = createHash('sha256').update(RECIPE).update(readFileSync(join(root, h.source)));
  for (const f of h.headers) hash.update(readFileSync(join(root, 'include', 'gadget', f)));
  const dir = join(root, '.build', 'bpf');
  const out = join(dir, `${h.stem}-${hash.digest('hex').slice(0, 16)}.bpf.o`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync('clang-16', [...CLANG_FLAGS, `-I${join(root, 'include')}`,
    `-I${join(root, 'include', 'gadget', 'amd64')}`, '-I/usr/include/x86_64-linux-gnu', '-c', join(root, h.source), '-o', tmp],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  stripDebugInfo(tmp);
  renameSync(tmp, out); // atomic: concurrent runs may compile at once
  return out;
}
