// `ig image build`: compile a gadget with the local toolchain and write it into the store as an OCI index.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { findTool } from '../bpf/toolchain.js';
import { OciError } from './errors.js';
import { checkInsideGadgetDir, checkLicense } from './build-checks.js';
import { killOnInterrupt, removeDirOnInterrupt } from './interrupt.js';
import { TIED_EXEC_FAILED, tiedToThisProcess } from './tied-child.js';
import { sha256 } from './digest.js';
import {
  ANN_BUILDER_VERSION, ANN_CREATED, ANN_DESCRIPTION, ANN_DOCUMENTATION, ANN_ORIGIN, ANN_SOURCE, ANN_TITLE, ANN_URL,
  ARTIFACT_TYPE_GADGET, EMPTY_DIGEST, EMPTY_JSON, MT_EBPF, MT_EMPTY, MT_GADGET_CONFIG, MT_INDEX, MT_MANIFEST, MT_WASM,
  type Descriptor, type ImageIndex, type Manifest,
} from './mediatypes.js';
import { formatReference, parseReference } from './reference.js';
import { OciStore, sortKeys } from './store.js';
import { parseMetadataYaml, readIfExists, updateMetadataText, validateMetadata } from './build-metadata.js';
import { buildWasm } from './build-wasm.js';

export interface BuildOptions {
  tag?: string;
  /** build.yaml path (default: build.yaml inside the gadget directory) */
  file?: string;
  /** keep compiled objects here (default: a temporary directory that is removed) */
  output?: string;
  updateMetadata?: boolean;
  validateMetadata?: boolean;
  store?: string;
  includeDirs?: string[];
  progress?: (line: string) => void;
  /** extra image annotations (the official gadgets' provenance) */
  annotations?: Record<string, string>;
  /** problems that do not stop the build (metadata naming what the object lacks) */
  warn?: (line: string) => void;
  /** the image's creation time (RFC 3339; default: creationTime(), SOURCE_DATE_EPOCH or now) */
  created?: string;
}

interface BuildYaml {
  ebpfsource: string;
  wasm: string;
  metadata: string;
  /** extra clang flags for the eBPF program, split on white space */
  cflags: string;
}

const DEFAULT_EBPF = 'program.bpf.c';
const DEFAULT_METADATA = 'gadget.yaml';

/** The ig source tree: $IG_SOURCE_PATH, else the directory above src/oci or dist/src/oci holding include/gadget. */
export function sourceRoot(): string {
  if (process.env.IG_SOURCE_PATH) return path.resolve(process.env.IG_SOURCE_PATH);
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(d, 'package.json')) && existsSync(path.join(d, 'include', 'gadget'))) return d;
    d = path.dirname(d);
  }
  throw new OciError('cannot find the ig source tree with include/gadget; set IG_SOURCE_PATH');
}

/** The version written to io.inspektor-gadget.builder.version. */
export function builderVersion(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = path.join(d, 'package.json');
    if (existsSync(p)) {
      try {
        const v = JSON.parse(readFileSync(p, 'utf8')).version;
        if (typeof v === 'string') return `v${v}`;
      } catch {
        /* keep looking */
      }
    }
    d = path.dirname(d);
  }
  return 'v0.0.0-unknown';
}

/** RFC 3339 creation time, from SOURCE_DATE_EPOCH (or the given seconds) when set (reproducible builds). */
export function creationTime(sde = process.env.SOURCE_DATE_EPOCH): string {
  let ms = Date.now();
  if (sde !== undefined && sde.trim() !== '') {
    if (!/^\d+$/.test(sde.trim())) throw new OciError(`SOURCE_DATE_EPOCH must be a number of seconds, got "${sde}"`);
    ms = Number(sde.trim()) * 1000;
  }
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The environment of a build's tools: a blank SOURCE_DATE_EPOCH is left out. ig reads it as unset (creationTime),
 * and clang-16 would refuse it ("must be a non-negative decimal integer"), failing every compile over an empty
 * variable.
 */
function toolEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.SOURCE_DATE_EPOCH === undefined || env.SOURCE_DATE_EPOCH.trim() !== '') return env;
  const { SOURCE_DATE_EPOCH: _blank, ...rest } = env;
  return rest;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    // Ctrl-C or SIGTERM of ig must not leave a clang running (killOnInterrupt), nor SIGKILL (tied: no handler runs)
    const [tiedCmd, tiedArgs] = tiedToThisProcess(cmd, args);
    const child = spawn(tiedCmd, tiedArgs, { cwd: opts.cwd, env: toolEnv(opts.env ?? process.env), stdio: ['ignore', 'pipe', 'pipe'] });
    killOnInterrupt(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => reject(new OciError(`cannot run ${path.basename(cmd)}: ${err.message}`)));
    child.on('close', (code) => {
      // setpriv could not exec it: what spawn's own error says without the tie
      const notRun = code !== null && TIED_EXEC_FAILED.has(code) ? /^setpriv: failed to execute [^:]+: (.*)$/m.exec(out) : null;
      if (notRun) reject(new OciError(`cannot run ${path.basename(cmd)}: ${notRun[1]}`));
      else resolve({ code: code ?? 1, out });
    });
  });
}

/** Every diagnostic line of a failed clang run (errors and their notes), not just the first. */
function compileErrors(out: string): string {
  const lines = out.split('\n').map((l) => l.trimEnd()).filter((l) => /\b(fatal error|error):/.test(l));
  if (!lines.length) return firstError(out);
  const counts = /(\d+) errors? generated/.exec(out);
  return lines.join('\n') + (counts ? `\n${counts[0]}.` : '');
}

export function firstError(out: string): string {
  const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /\berror\b/i.test(l)) ?? lines[0] ?? 'no output';
}

function checkUserPath(p: string, what: string): void {
  if (p.startsWith('-') || p.startsWith('@')) throw new OciError(`${what} "${p}" must not start with "-" or "@"`);
}

async function readBuildYaml(dir: string, file: string | undefined): Promise<{ cfg: BuildYaml; explicit: Partial<BuildYaml> }> {
  const p = file ? path.resolve(file) : path.join(dir, 'build.yaml');
  const text = await readIfExists(p);
  if (text === undefined) {
    if (file) throw new OciError(`build file ${file} does not exist`);
    return { cfg: { ebpfsource: DEFAULT_EBPF, wasm: '', metadata: DEFAULT_METADATA, cflags: '' }, explicit: {} };
  }
  let y: Record<string, unknown>;
  try {
    y = (parseYaml(text) as Record<string, unknown>) ?? {};
  } catch (err) {
    throw new OciError(`${p}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const explicit: Partial<BuildYaml> = {};
  for (const k of ['ebpfsource', 'wasm', 'metadata', 'cflags'] as const) {
    const v = y[k];
    if (v !== undefined && v !== null) {
      if (typeof v !== 'string') throw new OciError(`${p}: "${k}" must be a string`);
      if (k !== 'cflags') checkUserPath(v, `${path.basename(p)}: ${k}`);
      if (k !== 'cflags') checkInsideGadgetDir(dir, v, `${path.basename(p)}: ${k}`);
      explicit[k] = v;
    }
  }
  return {
    cfg: {
      ebpfsource: explicit.ebpfsource ?? DEFAULT_EBPF, wasm: explicit.wasm ?? '', metadata: explicit.metadata ?? DEFAULT_METADATA,
      cflags: explicit.cflags ?? '',
    },
    explicit,
  };
}

function hostMultiarch(): string {
  return process.arch === 'arm64' ? 'aarch64' : 'x86_64';
}

async function compileEbpf(src: string, dir: string, out: string, arch: string, root: string, includeDirs: string[], cflags: string[], progress: (l: string) => void): Promise<string> {
  const clang = findTool(['clang-16', 'clang']);
  if (!clang) throw new OciError('clang not found: install clang-16 (see scripts/deps/apt.txt)');
  const strip = findTool(['llvm-strip-16', 'llvm-strip']);
  if (!strip) throw new OciError('llvm-strip not found: install llvm-16');
  const obj = path.join(out, `${arch}.bpf.o`);
  const target = arch === 'amd64' ? 'x86' : 'arm64';
  const args = [
    '-target', 'bpf', '-Wall', '-g', '-O2',
    `-I/usr/include/${hostMultiarch()}-linux-gnu`,
    '-D', `__TARGET_ARCH_${target}`,
    '-I', path.join(root, 'include'),
    '-I', path.join(root, 'include', 'gadget', arch),
    ...includeDirs.flatMap((d) => ['-I', path.resolve(d)]),
    // keep the checkout location out of the object's BTF line info, so builds from any directory are identical
    `-fdebug-prefix-map=${dir}=.`,
    `-fdebug-prefix-map=${root}=/ig`,
    ...cflags,
    '-c', src,
    '-o', obj,
  ];
  progress(`Compiling ${src} for ${arch}`);
  const r = await run(clang, args, { cwd: dir });
  if (r.code !== 0) {
    const errors = compileErrors(r.out);
    const n = errors.split('\n').filter((l) => /error:/.test(l)).length;
    throw new OciError(`compiling ${src} for ${arch} failed with ${n || 'an'} error${n === 1 ? '' : 's'}:`, { detail: errors });
  }
  const s = await run(strip, ['-g', obj]);
  if (s.code !== 0) throw new OciError(`stripping ${arch}.bpf.o failed: ${firstError(s.out)}`);
  return obj;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function ci(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === key.toLowerCase()) return v;
  return undefined;
}

/** The annotation map of ig-spec §1.3, from gadget.yaml. */
export function imageAnnotationsFromMetadata(meta: Record<string, unknown> | undefined, created: string): Record<string, string> {
  const a: Record<string, string> = {};
  if (meta) {
    const set = (k: string, v: unknown) => {
      const s = str(v);
      if (s) a[k] = s;
    };
    set(ANN_TITLE, ci(meta, 'name'));
    set(ANN_DESCRIPTION, ci(meta, 'description'));
    set(ANN_URL, ci(meta, 'homepageURL'));
    set(ANN_DOCUMENTATION, ci(meta, 'documentationURL'));
    set(ANN_SOURCE, ci(meta, 'sourceURL'));
  }
  a[ANN_BUILDER_VERSION] = builderVersion();
  const extra = meta ? ci(meta, 'annotations') : undefined;
  if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
    for (const [k, v] of Object.entries(extra as Record<string, unknown>)) if (v !== null && v !== undefined) a[k] = String(v);
  }
  a[ANN_CREATED] = created;
  return sortKeys(a);
}

/** Architectures we can build: amd64, plus arm64 when its vmlinux.h is present. */
export function buildArchs(root: string): string[] {
  const archs = ['amd64'];
  if (existsSync(path.join(root, 'include', 'gadget', 'arm64', 'vmlinux.h'))) archs.push('arm64');
  return archs;
}

export async function buildImage(dir: string, opts: BuildOptions = {}): Promise<{ reference: string; digest: string }> {
  const progress = opts.progress ?? (() => {});
  const gdir = path.resolve(dir);
  checkUserPath(dir, 'gadget directory');
  if (!existsSync(gdir)) throw new OciError(`gadget directory ${dir} does not exist`);
  const name = opts.tag ? formatReference(parseReference(opts.tag)) : '';
  const { cfg, explicit } = await readBuildYaml(gdir, opts.file);

  // the eBPF source: the default is optional, an explicit one must exist
  let ebpfSrc: string | undefined = cfg.ebpfsource;
  if (!existsSync(path.resolve(gdir, ebpfSrc))) {
    if (explicit.ebpfsource) throw new OciError(`eBPF source ${ebpfSrc} (from build.yaml) does not exist in ${dir}`);
    ebpfSrc = undefined;
  }
  const metadataPath = path.resolve(gdir, cfg.metadata);
  let metadataText = await readIfExists(metadataPath);
  if (metadataText === undefined && explicit.metadata && !opts.updateMetadata) {
    throw new OciError(`metadata file ${cfg.metadata} (from build.yaml) does not exist in ${dir}`);
  }
  if (!ebpfSrc && metadataText === undefined && !cfg.wasm) {
    throw new OciError(`nothing to build in ${dir}: no ${DEFAULT_EBPF}, ${DEFAULT_METADATA} or wasm module (see build.yaml)`);
  }

  const keep = !!opts.output;
  const out = opts.output ? path.resolve(opts.output) : await fsp.mkdtemp(path.join(os.tmpdir(), 'ig-build-'));
  await fsp.mkdir(out, { recursive: true });
  const untrackOut = keep ? () => {} : removeDirOnInterrupt(out);
  try {
    const root = sourceRoot();
    const archs = buildArchs(root);
    const objects = new Map<string, Buffer>();
    if (ebpfSrc) {
      for (const arch of archs) {
        const cflags = cfg.cflags.split(/\s+/).filter(Boolean);
        const obj = await compileEbpf(ebpfSrc, gdir, out, arch, root, opts.includeDirs ?? [], cflags, progress);
        const data = await fsp.readFile(obj);
        checkLicense(data, ebpfSrc);
        objects.set(arch, data);
      }
    }
    const wasm = cfg.wasm ? await buildWasm(cfg.wasm, gdir, out, progress) : null;
    const anyObject = objects.get('amd64') ?? [...objects.values()][0];

    if (opts.updateMetadata) {
      if (!anyObject) throw new OciError('--update-metadata needs an eBPF program to read data sources and params from');
      progress(`${metadataText === undefined ? 'Creating' : 'Updating'} ${cfg.metadata}`);
      metadataText = await updateMetadataText(metadataText, anyObject, cfg.metadata);
      await fsp.writeFile(metadataPath, metadataText);
    }
    let meta: Record<string, unknown> | undefined;
    if (metadataText !== undefined) meta = parseMetadataYaml(metadataText, cfg.metadata);
    if (opts.validateMetadata !== false && meta && anyObject) {
      progress(`Validating ${cfg.metadata}`);
      for (const w of await validateMetadata(meta, anyObject, cfg.metadata, !!wasm)) (opts.warn ?? progress)(w);
    }

    // assemble the image
    const created = opts.created ?? creationTime();
    const annotations = { ...imageAnnotationsFromMetadata(meta, created), ...(opts.annotations ?? {}) };
    const store = new OciStore(opts.store);
    await store.init();
    const txn = store.begin();
    try {
      let config: Descriptor;
      if (metadataText !== undefined) {
        const b = Buffer.from(metadataText);
        await txn.stage(b);
        config = { mediaType: MT_GADGET_CONFIG, digest: sha256(b), size: b.length, annotations };
      } else {
        await txn.stage(EMPTY_JSON);
        config = { mediaType: MT_EMPTY, digest: EMPTY_DIGEST, size: EMPTY_JSON.length, annotations };
      }
      let wasmDesc: Descriptor | undefined;
      if (wasm) {
        await txn.stage(wasm);
        wasmDesc = { mediaType: MT_WASM, digest: sha256(wasm), size: wasm.length };
      }
      const manifests: Descriptor[] = [];
      for (const arch of [...archs].sort()) {
        const layers: Descriptor[] = [];
        const obj = objects.get(arch);
        if (obj) {
          await txn.stage(obj);
          layers.push({ mediaType: MT_EBPF, digest: sha256(obj), size: obj.length });
        }
        if (wasmDesc) layers.push(wasmDesc);
        const m: Manifest = { schemaVersion: 2, mediaType: MT_MANIFEST, artifactType: ARTIFACT_TYPE_GADGET, config, layers, annotations };
        const mb = Buffer.from(JSON.stringify(m));
        await txn.stage(mb);
        manifests.push({ mediaType: MT_MANIFEST, digest: sha256(mb), size: mb.length, annotations, platform: { architecture: arch, os: 'linux' } });
      }
      const index: ImageIndex = { schemaVersion: 2, mediaType: MT_INDEX, manifests, annotations };
      const ib = Buffer.from(JSON.stringify(index));
      const digest = await txn.stage(ib);
      const indexDesc: Descriptor = { mediaType: MT_INDEX, digest, size: ib.length, annotations };
      progress(`Writing image ${name || digest}`);
      await txn.commit((idx) => {
        if (name) OciStore.setTag(idx, name, indexDesc, { [ANN_ORIGIN]: 'built' });
        else OciStore.addUntagged(idx, indexDesc, { [ANN_ORIGIN]: 'built' });
      });
      return { reference: name, digest };
    } finally {
      await txn.discardStaged();
    }
  } finally {
    if (!keep) await fsp.rm(out, { recursive: true, force: true });
    untrackOut();
  }
}
