// `build.yaml` `wasm:` for ig image build: the gadget's WASM module from a prebuilt .wasm, a C file (clang-16
// for wasm32-wasi with Debian's wasi-libc, as a reactor), an AssemblyScript .ts file (the assemblyscript npm
// package), or a Rust crate (Debian's rustc 1.63 for wasm32-wasi). Go guests need Go >= 1.24 (//go:wasmexport),
// which Debian 12 does not have: a .go source fails in one line. The SDKs live in <ig>/sdk.
import { accessSync, constants, existsSync, statSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { OciError } from './errors.js';
import { findTool } from '../bpf/toolchain.js';
import { firstError, run, sourceRoot } from './build.js';

type Progress = (line: string) => void;

/** Build (or read) the module named by build.yaml's `wasm:` (relative to the gadget directory `dir`). */
export async function buildWasm(wasm: string, dir: string, out: string, progress: Progress): Promise<Buffer> {
  const abs = path.resolve(dir, wasm);
  if (wasm.endsWith('.go')) {
    throw new OciError(`${wasm}: building Go WASM modules needs Go 1.24 or later (//go:wasmexport), which is not available here; build it elsewhere and name the .wasm in build.yaml, or use the C, AssemblyScript or Rust SDK`);
  }
  if (!existsSync(abs)) throw new OciError(`wasm source ${wasm} (from build.yaml) does not exist in ${dir}`);
  const dst = path.join(out, 'program.wasm');
  let bin: Buffer;
  if (wasm.endsWith('.wasm')) bin = await fsp.readFile(abs);
  else if (wasm.endsWith('.c')) bin = await buildC(abs, dst, progress);
  else if (wasm.endsWith('.ts')) bin = await buildAssemblyScript(abs, dst, progress);
  else if (statSync(abs).isDirectory() || path.basename(abs) === 'Cargo.toml' || wasm.endsWith('.rs')) bin = await buildRust(abs, out, dst, progress);
  else throw new OciError(`unsupported wasm source ${wasm}: use a .wasm, .c, AssemblyScript .ts file or a Rust crate (directory, Cargo.toml or its src/lib.rs)`);
  if (!WebAssembly.validate(bin as Uint8Array<ArrayBuffer>)) throw new OciError(`${wasm}: ${wasm.endsWith('.wasm') ? 'is' : 'built into'} an invalid WebAssembly module`);
  return bin;
}

/**
 * PATH for clang without any directory that holds a wasm-opt. At -O2 clang runs the first wasm-opt it finds on the
 * linked module; `npm test` and `npm run` put binaryen's (an assemblyscript dependency) first on PATH, so the same
 * source built into different modules depending on how ig was started (advise_seccomp: 19,769 bytes under npm,
 * 23,515 without). An image is the same whoever starts the build; an author who wants wasm-opt runs it and names
 * the .wasm in build.yaml.
 */
export function pathWithoutWasmOpt(pathVar = process.env.PATH ?? ''): string {
  return pathVar.split(path.delimiter).filter((dir) => {
    try {
      accessSync(path.join(dir || '.', 'wasm-opt'), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  }).join(path.delimiter);
}

async function buildC(src: string, dst: string, progress: Progress): Promise<Buffer> {
  const clang = findTool(['clang-16', 'clang']);
  if (!clang) throw new OciError('clang-16 not found: install clang-16, lld-16, wasi-libc and libclang-rt-16-dev-wasm32 (scripts/deps/apt.txt; scripts/setup.sh installs them)');
  if (!findTool(['wasm-ld-16', 'wasm-ld'])) throw new OciError('wasm-ld not found: install lld-16 (scripts/deps/apt.txt; scripts/setup.sh installs it)');
  progress(`Compiling ${path.basename(src)} (clang, wasm32-wasi)`);
  // A reactor: _initialize runs the C constructors, exports are what the source marks with export_name.
  const r = await run(clang, ['--target=wasm32-wasi', '-mexec-model=reactor', '-O2', '-Wall', '-I', path.join(sourceRoot(), 'sdk', 'c', 'include'),
    `-fdebug-prefix-map=${path.dirname(src)}=.`, '-Wl,--strip-debug', '-o', dst, src], { cwd: path.dirname(src), env: { ...process.env, PATH: pathWithoutWasmOpt() } });
  if (r.code !== 0) throw new OciError(`compiling ${path.basename(src)} for wasm32-wasi failed: ${firstError(r.out)}`);
  return fsp.readFile(dst);
}

async function buildAssemblyScript(src: string, dst: string, progress: Progress): Promise<Buffer> {
  let asc: string;
  try {
    asc = path.join(path.dirname(createRequire(import.meta.url).resolve('assemblyscript/package.json')), 'bin', 'asc.js');
  } catch {
    throw new OciError('the assemblyscript npm package is not installed (npm ci in the ig source tree)');
  }
  progress(`Compiling ${path.basename(src)} (AssemblyScript)`);
  // --path makes `import ... from "ig"` find sdk/assemblyscript/ig; `--use abort=` turns aborts into traps
  // instead of an env.abort import the host does not provide.
  const r = await run(process.execPath, [asc, src, '-O3', '--noAssert', '--use', 'abort=', '--path', path.join(sourceRoot(), 'sdk', 'assemblyscript'), '-o', dst], { cwd: path.dirname(src) });
  if (r.code !== 0) throw new OciError(`compiling ${path.basename(src)} with AssemblyScript failed: ${firstError(r.out)}`);
  return fsp.readFile(dst);
}

async function buildRust(src: string, out: string, dst: string, progress: Progress): Promise<Buffer> {
  const crate = statSync(src).isDirectory() ? src : path.basename(src) === 'Cargo.toml' ? path.dirname(src) : findCrate(src);
  let manifest = path.join(crate, 'Cargo.toml');
  const toml = await fsp.readFile(manifest, 'utf8').catch(() => { throw new OciError(`${manifest} does not exist`); });
  const pkg = /\[package\][^[]*?\bname\s*=\s*"([^"]+)"/.exec(toml)?.[1];
  if (!pkg) throw new OciError(`cannot find the package name in ${manifest}`);
  if (!/crate-type\s*=\s*\[[^\]]*"cdylib"/.test(toml)) throw new OciError(`${manifest}: a WASM gadget module needs [lib] crate-type = ["cdylib"]`);
  // Debian's toolchain by full path: a rustup cargo earlier on PATH has no wasm32 target here.
  const cargo = existsSync('/usr/bin/cargo') ? '/usr/bin/cargo' : findTool(['cargo']);
  const rustc = existsSync('/usr/bin/rustc') ? '/usr/bin/rustc' : findTool(['rustc']);
  if (!cargo || !rustc) throw new OciError('cargo/rustc not found: install rustc, cargo and libstd-rust-dev-wasm32 (scripts/deps/apt-test.txt; scripts/setup.sh --test installs them)');
  const lock = await fsp.readFile(path.join(crate, 'Cargo.lock'), 'utf8').catch(() => '');
  // Cargo 1.63 cannot read a version 4 lock file (what current cargo writes, e.g. upstream's trace_mount) and has no
  // option to ignore one: build a copy of the crate without it, so the author's tree stays as it is.
  if (/^version = 4$/m.test(lock)) manifest = await crateCopyWithoutLock(crate, path.join(out, 'crate-copy'));
  progress(`Building ${pkg} (cargo, wasm32-wasi)`);
  const target = path.join(out, 'cargo-target');
  // 1.63 needs two then-unstable features that upstream's Rust SDK uses (LazyLock, let-else); wasm-ld-16 links
  // (Debian's rust-lld points at an lld-14 that is not installed).
  const r = await run(cargo, ['build', '--offline', '--release', '--target', 'wasm32-wasi', '--manifest-path', manifest], {
    env: {
      ...process.env, RUSTC: rustc, RUSTC_BOOTSTRAP: '1', CARGO_TARGET_DIR: target,
      RUSTFLAGS: '-Zcrate-attr=feature(once_cell) -Zcrate-attr=feature(let_else) -C linker=wasm-ld-16 -C link-arg=--strip-debug',
    },
  });
  if (r.code !== 0) throw new OciError(`building ${pkg} for wasm32-wasi failed: ${firstError(r.out)}`);
  await fsp.copyFile(path.join(target, 'wasm32-wasi', 'release', `${pkg.replace(/-/g, '_')}.wasm`), dst);
  return fsp.readFile(dst);
}

/**
 * A copy of `crate` in `dir` without its Cargo.lock (and target/), whose relative `path = "..."` entries (path
 * dependencies, [lib] path) point back to where they are from the original crate; the copy's manifest path.
 * Only path dependencies can be resolved here anyway (no crates.io): cargo writes a lock of its own version.
 */
async function crateCopyWithoutLock(crate: string, dir: string): Promise<string> {
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.cp(crate, dir, { recursive: true, filter: (s) => { const rel = path.relative(crate, s); return rel !== 'Cargo.lock' && rel !== 'target'; } });
  const toml = await fsp.readFile(path.join(crate, 'Cargo.toml'), 'utf8');
  const rebased = toml.replace(/(\bpath\s*=\s*")([^"]+)(")/g, (_m, a: string, p: string, b: string) => `${a}${path.isAbsolute(p) ? p : path.resolve(crate, p)}${b}`);
  await fsp.writeFile(path.join(dir, 'Cargo.toml'), rebased);
  return path.join(dir, 'Cargo.toml');
}

/** The crate a .rs file belongs to: the nearest directory above it with a Cargo.toml. */
function findCrate(file: string): string {
  let d = path.dirname(file);
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(d, 'Cargo.toml'))) return d;
    d = path.dirname(d);
  }
  throw new OciError(`${file}: no Cargo.toml above it; name the crate directory in build.yaml`);
}
