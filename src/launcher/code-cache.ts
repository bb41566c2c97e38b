// Run a CommonJS bundle with V8's code cache (Node 20 has no module.enableCompileCache): the bundle is compiled
// through vm.Script with the bytecode a previous run left in a cache file, so V8 neither parses nor compiles the
// functions that run used (ig's ~1 MB bundle: ≈60 % of the time between node's start and `main`).
//
// Any doubt about the cache means a normal compile, silently: a missing, unreadable, stale (other bundle, node or
// flags), truncated or corrupted file, one V8 rejects, or one another user owns or could have written. V8 itself only checks the source's length and its own
// version and flags, and a release build does not checksum the payload, so the file carries its own key and a
// SHA-1 of the payload. After a run that compiled without a usable cache and exited with 0, the cache is written
// anew (createCachedData after the run holds every function it compiled; temp file + rename, so concurrent runs
// never see half a file).
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';

const MAGIC = 'ig-code-cache 1';

/** What became of the cache in this run: `hit` used it; the others compiled normally (and rewrite it at exit). */
export type CacheState = 'hit' | 'off' | 'missing' | 'untrusted' | 'stale' | 'corrupt' | 'rejected';

export interface CodeCacheOptions {
  /** The CommonJS bundle to run, as a module of its own (require, __filename … relative to it). */
  file: string;
  /** Where its code cache lives; undefined: no cache (compile normally, write nothing). */
  cacheFile?: string;
  /**
   * Called after the compile, before the bundle runs (work that overlaps the compile waits here); true: the bundle
   * file was rebuilt meanwhile, read and compile it again.
   */
  beforeRun?: () => boolean;
}

const CACHED_COMMANDS = new Set(['run', 'replay', 'daemon', 'image']);

/**
 * The cache file for ig's arguments: `<bundle dir>/code-cache/<command>.bin` (IG_CODE_CACHE_DIR moves it,
 * IG_CODE_CACHE=0 turns caching off). One file per command kind, since a cache holds what the run that wrote it
 * compiled, and per set of node flags (`run-<hash>.bin`), since V8 refuses a cache made under other flags: tests
 * and benchmarks that start node with --require hooks do not evict the plain run's cache.
 */
export function cacheFileFor(args: string[], bundleDir: string, env: NodeJS.ProcessEnv, execArgv: string[] = process.execArgv): string | undefined {
  if (env['IG_CODE_CACHE'] === '0') return undefined;
  const word = args.find((a) => !a.startsWith('-'));
  const kind = word !== undefined && CACHED_COMMANDS.has(word) ? word : 'other';
  const flags = execArgv.length ? `-${sha1(Buffer.from(execArgv.join('\0'))).slice(0, 8)}` : '';
  return join(env['IG_CODE_CACHE_DIR'] || join(bundleDir, 'code-cache'), `${kind}${flags}.bin`);
}

/**
 * The identity a cache belongs to: this bundle file (size, mtime, ctime — which no one can set back —, inode),
 * this node and its V8 flags. Hashing the bundle's content would cost more than reading the cache saves.
 */
function cacheKey(source: Buffer, fd: number): string {
  const st = fstatSync(fd, { bigint: true });
  const parts = [process.version, process.arch, process.execArgv.join(' '), String(source.length), String(st.mtimeNs), String(st.ctimeNs), String(st.ino), String(st.dev)];
  return createHash('sha1').update(parts.join('\0')).digest('hex');
}

function sha1(b: Uint8Array): string { return createHash('sha1').update(b).digest('hex'); }

/** The payload of a cache file when its header names this key and its checksum holds. */
export function readCache(cacheFile: string, key: string): { data?: Buffer; state: CacheState } {
  let raw: Buffer;
  let fd: number;
  try { fd = openSync(cacheFile, 'r'); } catch {
    return { state: 'missing' }; // absent or unreadable: the same to us, compile normally
  }
  try {
    // The cache is code that runs as this user (root, for ig): a file someone else owns or could have written
    // (IG_CODE_CACHE_DIR in a shared directory) is never used.
    const st = fstatSync(fd);
    if (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return { state: 'untrusted' };
    raw = readFileSync(fd);
  } catch {
    return { state: 'missing' }; // unreadable after all: compile normally
  } finally {
    closeSync(fd);
  }
  const nl = raw.indexOf(10);
  const header = nl > 0 && nl < 200 ? raw.subarray(0, nl).toString('latin1').split(' ') : [];
  // header: "ig-code-cache" "1" key sha1
  if (header.length !== 4 || `${header[0]} ${header[1]}` !== MAGIC) return { state: 'corrupt' };
  if (header[2] !== key) return { state: 'stale' };
  const data = raw.subarray(nl + 1);
  if (data.length === 0 || sha1(data) !== header[3]) return { state: 'corrupt' };
  return { data, state: 'hit' };
}

export function writeCache(cacheFile: string, key: string, data: Buffer): void {
  mkdirSync(dirname(cacheFile), { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  // 0644 whatever the umask: a group- or world-writable cache is refused when read (readCache)
  writeFileSync(tmp, Buffer.concat([Buffer.from(`${MAGIC} ${key} ${sha1(data)}\n`, 'latin1'), data]), { mode: 0o644 });
  renameSync(tmp, cacheFile);
}

/**
 * The bundle's text already inside the CommonJS wrapper, and its cache key; the bytes read stay in here (see
 * compileBundle). The file is read between the wrapper's two halves, so the text is one string from one copy:
 * `Module.wrap(text)` made a second one (V8 flattened the concatenation into a 1.1 MB string of its own when it
 * compiled), and the unwrapped text, an external string in V8's old generation (node makes strings over ≈1 MB
 * external), stayed resident beside it until the first full GC, which a quiet streaming run may never have.
 */
function readBundle(file: string): { text: string; key: string } {
  const [head, tail] = (Module as unknown as { wrapper: [string, string] }).wrapper.map((w) => Buffer.from(w, 'latin1'));
  const fd = openSync(file, 'r');
  let wrapped: Buffer;
  let key: string;
  try {
    const size = fstatSync(fd).size;
    wrapped = Buffer.allocUnsafe(head!.length + size + tail!.length);
    head!.copy(wrapped, 0);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, wrapped, head!.length + got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    const source = wrapped.subarray(head!.length, head!.length + got);
    key = cacheKey(source, fd);
    // a hashbang is not JavaScript inside the wrapper
    if (source[0] === 0x23 && source[1] === 0x21) source.write('//', 0, 'latin1');
    tail!.copy(wrapped, head!.length + got);
    wrapped = wrapped.subarray(0, head!.length + got + tail!.length);
  } finally {
    closeSync(fd);
  }
  // scripts/bundle.mjs writes ASCII: read as latin1, a plain copy (UTF-8 decoding of the 1 MB bundle took 2.5-6 ms)
  const text = isAscii(wrapped) ? wrapped.toString('latin1') : wrapped.toString('utf8');
  return { text, key };
}

/**
 * Compile the bundle, with its code cache when one fits. The file's bytes (1.1 MB) and the cache's (0.7 MB) are
 * ArrayBuffers outside V8's heap: referenced from no frame that is live while ig runs, they die young and the
 * first scavenge frees them. Held by runWithCodeCache's frame (ig runs inside it until its first await) they
 * were promoted and stayed resident until a full GC, which a quiet streaming run may never have (1.8 MiB of
 * start-up's peak; test/cli/launcher.test.ts).
 */
function compileBundle(o: CodeCacheOptions): { script: vm.Script; key: string; state: CacheState } {
  const { text, key } = readBundle(o.file);
  const cached = o.cacheFile === undefined ? { state: 'off' as CacheState } : readCache(o.cacheFile, key);
  const script = new vm.Script(text, {
    filename: o.file,
    cachedData: cached.data,
    // import() of ESM-only packages from inside the bundle goes through node's own loader, as from a file.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return { script, key, state: cached.state };
}

/** Compile and run `o.file` as a CommonJS module; returns what became of the cache. */
export function runWithCodeCache(o: CodeCacheOptions): CacheState {
  const { script, key, state: cachedState } = compileBundle(o);
  if (o.beforeRun?.()) return runWithCodeCache({ file: o.file, cacheFile: o.cacheFile });
  let state = cachedState;
  if (state === 'hit' && script.cachedDataRejected) state = 'rejected';
  performance.mark(`ig:cache-${state}`);
  if (o.cacheFile !== undefined && state !== 'hit') {
    const cacheFile = o.cacheFile;
    process.once('exit', (code) => {
      if (code !== 0) return; // a failed run compiled little of what the next one needs
      try {
        writeCache(cacheFile, key, script.createCachedData());
      } catch {
        // a cache we cannot write (read-only install, full disk) only means the next start compiles again
      }
    });
  }
  const mod = new Module(o.file, undefined);
  mod.filename = o.file;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(dirname(o.file));
  const req = createRequire(o.file);
  const fn = script.runInThisContext() as (e: unknown, r: NodeRequire, m: Module, f: string, d: string) => void;
  fn.call(mod.exports, mod.exports, req, mod, o.file, dirname(o.file));
  mod.loaded = true;
  return state;
}
