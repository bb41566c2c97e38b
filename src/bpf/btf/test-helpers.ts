// Shared helpers for the BTF tests: compile testdata C at test time, read bpftool's view of a
// BTF blob for cross-checks, and synthesize raw BTF for cases clang will not produce.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Btf } from './btf.js';
import { BtfKind, kindName, type BtfType } from './types.js';

export const CLANG = process.env.IG_TEST_CLANG ?? 'clang-16';

const toolCache = new Map<string, boolean>();
export function haveTool(cmd: string, arg = '--version'): boolean {
  let ok = toolCache.get(cmd);
  if (ok === undefined) {
    ok = spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
    toolCache.set(cmd, ok);
  }
  return ok;
}

/** Reason to skip compile-based tests, or false when clang can build BPF objects. */
export function clangSkip(): string | false {
  return haveTool(CLANG) ? false : `${CLANG} not installed`;
}

export function bpftoolSkip(): string | false {
  return haveTool('bpftool', 'version') ? false : 'bpftool not installed';
}

/** The testdata directory whether running from dist/ (compiled) or src/. */
export function testdataDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'testdata'), resolve(here, '../../../../src/bpf/btf/testdata')];
  const found = candidates.find((d) => existsSync(join(d, 'gadget.bpf.c')));
  if (!found) throw new Error(`cannot find src/bpf/btf/testdata from ${here}`);
  return found;
}

let outDir: string | undefined;
const compiled = new Map<string, string>();

/** Compiles testdata/<name>.bpf.c (once per process) and returns the object path. */
export function compileTestdata(name: string, extraArgs: string[] = ['-g']): string {
  const key = `${name}\0${extraArgs.join(' ')}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  outDir ??= mkdtempSync(join(tmpdir(), 'ig-btf-test-'));
  const out = join(outDir, `${name}-${compiled.size}.o`);
  const src = join(testdataDir(), `${name}.bpf.c`);
  const r = spawnSync(CLANG, ['-target', 'bpf', '-O2', ...extraArgs, '-I/usr/include/x86_64-linux-gnu', '-c', src, '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${CLANG} failed for ${src}:\n${r.stderr}`);
  compiled.set(key, out);
  return out;
}

/** Compiles a C snippet for an arbitrary clang target (e.g. x86_64) to get a non-BPF ELF. */
export function compileSnippet(code: string, target: string): string {
  outDir ??= mkdtempSync(join(tmpdir(), 'ig-btf-test-'));
  const out = join(outDir, `snippet-${compiled.size}-${target}.o`);
  const r = spawnSync(CLANG, ['-target', target, '-x', 'c', '-c', '-', '-o', out], { input: code, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${CLANG} failed:\n${r.stderr}`);
  compiled.set(out, out);
  return out;
}

// bpftool -j output, typed loosely: keys differ per kind.
export type JsonType = Record<string, any>;

/** `bpftool -j btf dump file <path>`; enum values are kept as strings so 64-bit values stay exact. */
export function bpftoolTypes(path: string): JsonType[] {
  const r = spawnSync('bpftool', ['-j', 'btf', 'dump', 'file', path], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`bpftool failed for ${path}: ${r.stderr}`);
  const text = r.stdout.replace(/"val":(-?\d+)/g, '"val":"$1"');
  return (JSON.parse(text) as { types: JsonType[] }).types;
}

const LINKAGE = ['static', 'global', 'extern'];

/** Differences between our decoding and bpftool's, as readable strings (first `limit`). */
export function diffAgainstBpftool(btf: Btf, types: JsonType[], limit = 20): string[] {
  const diffs: string[] = [];
  const expect = (id: number, what: string, ours: unknown, theirs: unknown) => {
    if (diffs.length < limit && String(ours) !== String(theirs)) diffs.push(`[${id}] ${what}: ours=${String(ours)} bpftool=${String(theirs)}`);
  };
  expect(0, 'type count', btf.typeCount - 1, types.length);
  for (const j of types) {
    const id = j.id as number;
    const t: BtfType = btf.type(id);
    expect(id, 'kind', kindName(t.kind), j.kind);
    expect(id, 'name', t.name, j.name === '(anon)' ? '' : j.name);
    switch (t.kind) {
      case BtfKind.Int:
        expect(id, 'size', t.size, j.size);
        expect(id, 'bits_offset', t.bitOffset, j.bits_offset);
        expect(id, 'nr_bits', t.bits, j.nr_bits);
        expect(id, 'encoding', t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)', j.encoding);
        break;
      case BtfKind.Ptr: case BtfKind.Typedef: case BtfKind.Volatile: case BtfKind.Const:
      case BtfKind.Restrict: case BtfKind.TypeTag:
        expect(id, 'type_id', t.type, j.type_id);
        break;
      case BtfKind.Array:
        expect(id, 'type_id', t.type, j.type_id);
        expect(id, 'index_type_id', t.indexType, j.index_type_id);
        expect(id, 'nr_elems', t.nelems, j.nr_elems);
        break;
      case BtfKind.Struct: case BtfKind.Union:
        expect(id, 'size', t.size, j.size);
        expect(id, 'vlen', t.members.length, j.members.length);
        t.members.forEach((m, i) => {
          const jm = j.members[i] ?? {};
          expect(id, `member ${i} name`, m.name, jm.name === '(anon)' ? '' : jm.name);
          expect(id, `member ${i} type`, m.type, jm.type_id);
          expect(id, `member ${i} bits_offset`, m.bitOffset, jm.bits_offset);
          expect(id, `member ${i} bitfield_size`, m.bitfieldSize, jm.bitfield_size ?? 0);
        });
        break;
      case BtfKind.Enum: case BtfKind.Enum64:
        expect(id, 'size', t.size, j.size);
        expect(id, 'encoding', t.signed ? 'SIGNED' : 'UNSIGNED', j.encoding);
        expect(id, 'vlen', t.values.length, j.values.length);
        t.values.forEach((v, i) => {
          expect(id, `value ${i} name`, v.name, j.values[i]?.name);
          // bpftool's JSON (not its text output) sign-extends unsigned 32-bit enum values.
          let theirs = BigInt(j.values[i]?.val ?? 0);
          if (t.kind === BtfKind.Enum && !t.signed) theirs = BigInt.asUintN(32, theirs);
          expect(id, `value ${i}`, v.value, theirs);
        });
        break;
      case BtfKind.Fwd:
        expect(id, 'fwd_kind', t.union ? 'union' : 'struct', j.fwd_kind);
        break;
      case BtfKind.Func:
        expect(id, 'type_id', t.type, j.type_id);
        expect(id, 'linkage', LINKAGE[t.linkage], j.linkage);
        break;
      case BtfKind.FuncProto:
        expect(id, 'ret_type_id', t.returnType, j.ret_type_id);
        expect(id, 'vlen', t.params.length, j.params.length);
        t.params.forEach((p, i) => {
          expect(id, `param ${i} name`, p.name, j.params[i]?.name === '(anon)' ? '' : j.params[i]?.name);
          expect(id, `param ${i} type`, p.type, j.params[i]?.type_id);
        });
        break;
      case BtfKind.Var:
        expect(id, 'type_id', t.type, j.type_id);
        expect(id, 'linkage', LINKAGE[t.linkage], j.linkage);
        break;
      case BtfKind.Datasec:
        expect(id, 'size', t.size, j.size);
        expect(id, 'vlen', t.vars.length, j.vars.length);
        t.vars.forEach((v, i) => {
          expect(id, `var ${i} type`, v.type, j.vars[i]?.type_id);
          expect(id, `var ${i} offset`, v.offset, j.vars[i]?.offset);
          expect(id, `var ${i} size`, v.size, j.vars[i]?.size);
        });
        break;
      case BtfKind.Float:
        expect(id, 'size', t.size, j.size);
        break;
      case BtfKind.DeclTag:
        expect(id, 'type_id', t.type, j.type_id);
        expect(id, 'component_idx', t.componentIdx, j.component_idx);
        break;
    }
  }
  return diffs;
}

/**
 * Absolute byte offset of a dotted member path according to bpftool's JSON, found independently
 * of our flattening: anonymous members are searched through, typedefs/modifiers followed.
 */
const idMaps = new WeakMap<JsonType[], Map<number, JsonType>>();
export function bpftoolOffset(types: JsonType[], rootId: number, path: string[]): number | undefined {
  let byId = idMaps.get(types);
  if (!byId) idMaps.set(types, (byId = new Map<number, JsonType>(types.map((t) => [t.id as number, t]))));
  const ids = byId;
  const strip = (id: number): JsonType | undefined => {
    let t = ids.get(id);
    while (t && ['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = ids.get(t.type_id);
    return t;
  };
  const find = (structId: number, name: string): { bits: number; type: number } | undefined => {
    const s = strip(structId);
    for (const m of s?.members ?? []) {
      if (m.name === name) return { bits: m.bits_offset, type: m.type_id };
      if (m.name === '(anon)') {
        const inner = find(m.type_id, name);
        if (inner) return { bits: m.bits_offset + inner.bits, type: inner.type };
      }
    }
    return undefined;
  };
  let bits = 0;
  let cur = rootId;
  for (const part of path) {
    const hit = find(cur, part);
    if (!hit) return undefined;
    bits += hit.bits;
    cur = hit.type;
  }
  return bits / 8;
}

/** Builds raw BTF blobs by hand, for encodings clang never emits and for corrupt input. */
export class BtfBuilder {
  private readonly strBytes: number[] = [0];
  private readonly strOffs = new Map<string, number>([['', 0]]);
  private readonly words: number[] = [];
  private count = 0;

  /** For split BTF: ids continue after the base's, string offsets after the base's string section. */
  constructor(private readonly firstId = 1, private readonly strBase = 0) {}

  str(s: string): number {
    if (s === '' ) return 0;
    let off = this.strOffs.get(s);
    if (off === undefined) {
      off = this.strBase + this.strBytes.length;
      this.strBytes.push(...Buffer.from(s, 'utf8'), 0);
      this.strOffs.set(s, off);
    }
    return off;
  }

  /** Appends one record; returns its type id. */
  raw(name: string, kind: number, vlen: number, kflag: boolean, sizeOrType: number, trailer: number[] = []): number {
    const info = ((kflag ? 1 : 0) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff);
    this.words.push(this.str(name), info >>> 0, sizeOrType >>> 0, ...trailer.map((w) => w >>> 0));
    return this.firstId + this.count++;
  }

  int(name: string, size: number, encoding = 0, bits = size * 8, bitOffset = 0): number {
    return this.raw(name, BtfKind.Int, 0, false, size, [(encoding << 24) | (bitOffset << 16) | bits]);
  }

  ref(kind: BtfKind, name: string, type: number): number {
    return this.raw(name, kind, 0, false, type);
  }

  struct(name: string, size: number, members: { name: string; type: number; bits: number; bitfield?: number }[], kflag = false): number {
    const trailer = members.flatMap((m) => [this.str(m.name), m.type, kflag ? ((m.bitfield ?? 0) << 24) | m.bits : m.bits]);
    return this.raw(name, BtfKind.Struct, members.length, kflag, size, trailer);
  }

  enum64(name: string, size: number, signed: boolean, values: [string, bigint][]): number {
    const trailer = values.flatMap(([n, v]) => {
      const u = BigInt.asUintN(64, v);
      return [this.str(n), Number(u & 0xffffffffn), Number(u >> 32n)];
    });
    return this.raw(name, BtfKind.Enum64, values.length, signed, size, trailer);
  }

  enum32(name: string, size: number, signed: boolean, values: [string, number][]): number {
    return this.raw(name, BtfKind.Enum, values.length, signed, size, values.flatMap(([n, v]) => [this.str(n), v]));
  }

  build(): Buffer {
    const types = Buffer.alloc(this.words.length * 4);
    this.words.forEach((w, i) => types.writeUInt32LE(w, i * 4));
    const strs = Buffer.from(this.strBytes);
    const hdr = Buffer.alloc(24);
    hdr.writeUInt16LE(0xeb9f, 0);
    hdr[2] = 1;
    hdr.writeUInt32LE(24, 4);
    hdr.writeUInt32LE(0, 8);
    hdr.writeUInt32LE(types.length, 12);
    hdr.writeUInt32LE(types.length, 16);
    hdr.writeUInt32LE(strs.length, 20);
    return Buffer.concat([hdr, types, strs]);
  }
}

export function readObject(path: string): Buffer {
  return readFileSync(path);
}
