// BTF blob parser. Parsing is two-phase so the kernel's multi-megabyte BTF stays cheap:
// the constructor only records where each type record starts (one linear pass), and
// records are decoded into objects on first use. Name lookups build their index lazily.

import { readFileSync } from 'node:fs';
import { ElfFile } from './elf.js';
import { collectMarkers } from './markers.js';
import { enumInfoOf, structLayoutOf, varInfoOf } from './layout.js';
import type { EnumInfo, GadgetMarkers, StructLayout, VarInfo } from './model.js';
import {
  BtfKind, isModifierOrTypedef, kindName,
  type BtfDatasec, type BtfMember, type BtfType, type BtfVar,
} from './types.js';

const BTF_MAGIC = 0xeb9f;
const HDR_MIN_LEN = 24;
const TYPE_HDR_LEN = 12;
/** Typedef/modifier chains deeper than this only occur in corrupt (cyclic) BTF. */
const MAX_CHAIN = 64;
/** Pointer size of every target ig supports (BPF, x86_64, arm64). */
const PTR_SIZE = 8;
export const KERNEL_BTF_PATH = '/sys/kernel/btf/vmlinux';

export interface DatasecVar { name: string; typeId: number; offset: number; size: number }

interface VarPlacement { section: string; offset: number; size: number }

const VOID: BtfType = Object.freeze({ id: 0, kind: BtfKind.Void, name: '' }) as BtfType;

export class Btf {
  private static kernelCache?: Btf;

  /** First type id this blob defines: 1, or the base's nextId for split BTF. */
  readonly firstId: number;
  /** One past the highest valid type id. */
  readonly nextId: number;

  private readonly offsets: Uint32Array;   // byte offset in buf of each local type record
  private readonly kinds: Uint8Array;      // BtfKind of each local type, for cheap scans
  private readonly decoded: (BtfType | undefined)[];
  private readonly strStart: number;       // byte offset of the string section in buf
  private readonly strLen: number;
  private readonly strIdBase: number;      // string offsets below this belong to the base BTF
  private nameIndex?: Map<string, number[]>;
  private varPlacement?: Map<number, VarPlacement>;
  private markerCache?: GadgetMarkers;

  private constructor(private readonly buf: Buffer, readonly base?: Btf) {
    if (buf.length < HDR_MIN_LEN) throw new Error(`BTF truncated: header needs ${HDR_MIN_LEN} bytes, got ${buf.length}`);
    const magic = buf.readUInt16LE(0);
    if (magic !== BTF_MAGIC) {
      if (magic === 0x9feb) throw new Error('big-endian BTF is not supported');
      throw new Error(`not BTF data (magic 0x${magic.toString(16)}, want 0x${BTF_MAGIC.toString(16)})`);
    }
    if (buf[2] !== 1) throw new Error(`unsupported BTF version ${buf[2]}`);
    const hdrLen = buf.readUInt32LE(4);
    const typeOff = buf.readUInt32LE(8);
    const typeLen = buf.readUInt32LE(12);
    const strOff = buf.readUInt32LE(16);
    const strLen = buf.readUInt32LE(20);
    if (hdrLen < HDR_MIN_LEN || hdrLen > buf.length) throw new Error(`BTF truncated: header length ${hdrLen}, blob has ${buf.length} bytes`);
    const typeStart = hdrLen + typeOff;
    if (typeStart + typeLen > buf.length) {
      throw new Error(`BTF truncated: type section ends at byte ${typeStart + typeLen}, blob has ${buf.length}`);
    }
    if (hdrLen + strOff + strLen > buf.length) {
      throw new Error(`BTF truncated: string section ends at byte ${hdrLen + strOff + strLen}, blob has ${buf.length}`);
    }
    if (typeOff % 4 !== 0) throw new Error(`BTF type section offset ${typeOff} is not 4-byte aligned`);
    if (!base && strLen > 0 && buf[hdrLen + strOff] !== 0) throw new Error('BTF string section does not start with an empty string');

    this.strStart = hdrLen + strOff;
    this.strLen = strLen;
    this.strIdBase = base ? base.strIdBase + base.strLen : 0;
    this.firstId = base ? base.nextId : 1;

    // Phase 1: find each record's start. The largest possible count bounds the arrays.
    const maxTypes = Math.floor(typeLen / TYPE_HDR_LEN);
    const offsets = new Uint32Array(maxTypes);
    const kinds = new Uint8Array(maxTypes);
    const end = typeStart + typeLen;
    let n = 0;
    for (let o = typeStart; o < end; n++) {
      const id = this.firstId + n;
      if (o + TYPE_HDR_LEN > end) throw new Error(`BTF truncated: type ${id} header at byte ${o} runs past the type section`);
      const info = buf.readUInt32LE(o + 4);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const extra = trailerLen(kind, vlen);
      if (extra < 0) throw new Error(`unsupported BTF kind ${kind} for type ${id}`);
      if (o + TYPE_HDR_LEN + extra > end) throw new Error(`BTF truncated: type ${id} (${kindName(kind)}) runs past the type section`);
      offsets[n] = o;
      kinds[n] = kind;
      o += TYPE_HDR_LEN + extra;
    }
    this.offsets = offsets.subarray(0, n);
    this.kinds = kinds.subarray(0, n);
    this.decoded = new Array<BtfType | undefined>(n);
    this.nextId = this.firstId + n;
  }

  /** Parse a raw BTF blob (e.g. /sys/kernel/btf/*). Pass `base` for split BTF (kernel modules). */
  static fromRaw(buf: Buffer, base?: Btf): Btf {
    return new Btf(buf, base);
  }

  /** Parse the .BTF section of a BPF ELF object, fixing DATASEC sizes/offsets like libbpf does. */
  static fromElf(buf: Buffer): Btf {
    const elf = new ElfFile(buf);
    elf.assertBpf();
    const data = elf.sectionData('.BTF');
    if (!data) throw new Error('BPF object has no .BTF section (was it compiled with -g?)');
    const btf = new Btf(data);
    btf.fixupDatasecs(elf);
    return btf;
  }

  /** The running kernel's BTF, parsed on first use and cached for the process lifetime. */
  static kernel(): Btf {
    if (!Btf.kernelCache) Btf.kernelCache = Btf.fromRaw(readKernelFile(KERNEL_BTF_PATH));
    return Btf.kernelCache;
  }

  /**
   * Replaces the cached kernel BTF, e.g. with a BTFHub/btfgen file on kernels without
   * /sys/kernel/btf/vmlinux; undefined re-enables lazy loading from sysfs.
   */
  static setKernel(btf: Btf | undefined): void {
    Btf.kernelCache = btf;
  }

  /** Split BTF of a loaded kernel module, based on the kernel's BTF. Not cached. */
  static kernelModule(module: string): Btf {
    if (!/^[\w-]+$/.test(module)) throw new Error(`invalid kernel module name ${JSON.stringify(module)}`);
    return Btf.fromRaw(readKernelFile(`/sys/kernel/btf/${module}`), Btf.kernel());
  }

  /** Number of valid ids including void (id 0) and any base types. */
  get typeCount(): number {
    return this.nextId;
  }

  /** Kind of a type without decoding it (cheap, for scans). */
  kindOf(id: number): BtfKind {
    if (id === 0) return BtfKind.Void;
    if (id < this.firstId) return this.base ? this.base.kindOf(id) : this.badId(id);
    const k = this.kinds[id - this.firstId];
    return k === undefined ? this.badId(id) : (k as BtfKind);
  }

  /** Decoded type record. Returned objects are shared: treat them as read-only. */
  type(id: number): BtfType {
    if (id === 0) return VOID;
    if (id < this.firstId) return this.base ? this.base.type(id) : this.badId(id);
    const idx = id - this.firstId;
    if (!(idx < this.offsets.length)) this.badId(id);
    return (this.decoded[idx] ??= this.decode(id, this.offsets[idx]));
  }

  /** All types (including base ones) with this exact name, in id order; optionally of one kind. */
  typesByName(name: string, kind?: BtfKind): BtfType[] {
    const ids = this.names().get(name) ?? [];
    const out: BtfType[] = [];
    for (const id of ids) {
      if (kind === undefined || this.kindOf(id) === kind) out.push(this.type(id));
    }
    return out;
  }

  /** Names of the FUNCs whose name starts with `prefix` (e.g. the gadget_pf_ packet filter splice points). */
  funcNamesWithPrefix(prefix: string): string[] {
    // Only the FUNC records' names are read: building the whole name index for this took 4-7 ms of CPU before
    // every gadget's first event (a 1,089-type object; its only caller, the packet filter params, needs no other).
    // A name is compared as bytes and decoded only when it matches (the kernel's BTF has ≈60k FUNCs).
    const out = new Set<string>(this.base?.funcNamesWithPrefix(prefix));
    const want = Buffer.from(prefix, 'utf8');
    const limit = this.strStart + this.strLen;
    for (let i = 0; i < this.kinds.length; i++) {
      if (this.kinds[i] !== BtfKind.Func) continue;
      const off = this.buf.readUInt32LE(this.offsets[i]!);
      if (off >= this.strIdBase) {
        const start = this.strStart + off - this.strIdBase;
        if (start + want.length > limit || this.buf.compare(want, 0, want.length, start, start + want.length) !== 0) continue;
      }
      const name = this.str(off);
      if (name.startsWith(prefix)) out.add(name);
    }
    return [...out];
  }

  /** Follows typedefs and const/volatile/restrict/type_tag to the underlying type. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let depth = 0; isModifierOrTypedef(t.kind); depth++) {
      if (depth >= MAX_CHAIN) throw new Error(`BTF type chain starting at ${id} is too deep (cycle?)`);
      t = this.type((t as { type: number }).type);
    }
    return t;
  }

  /** Size in bytes of a type as it would be laid out in memory. */
  sizeOf(id: number, depth = 0): number {
    if (depth >= MAX_CHAIN) throw new Error(`BTF type chain starting at ${id} is too deep (cycle?)`);
    const t = this.type(id);
    switch (t.kind) {
      case BtfKind.Int: case BtfKind.Struct: case BtfKind.Union: case BtfKind.Enum:
      case BtfKind.Enum64: case BtfKind.Float: case BtfKind.Datasec:
        return t.size;
      case BtfKind.Ptr:
        return PTR_SIZE;
      case BtfKind.Array:
        return t.nelems * this.sizeOf(t.type, depth + 1);
      case BtfKind.Typedef: case BtfKind.Volatile: case BtfKind.Const: case BtfKind.Restrict:
      case BtfKind.TypeTag: case BtfKind.Var:
        return this.sizeOf(t.type, depth + 1);
      default:
        throw new Error(`BTF type ${id} (${kindName(t.kind)} '${t.name}') has no size`);
    }
  }

  /** First ENUM/ENUM64 named `name` (without the "enum " keyword). */
  enumByName(name: string): EnumInfo | undefined {
    // Without a name index yet, only enum records are looked at, by their name's bytes: indexing every name of the
    // kernel's BTF (100k+) took ≈100 ms of CPU before the first event of a gadget with a kernel enum (trace_tcp).
    if (!this.nameIndex) {
      const fromBase = this.base?.enumByName(name);
      if (fromBase) return fromBase;
      const want = Buffer.from(name, 'utf8');
      for (let i = 0; i < this.kinds.length; i++) {
        const k = this.kinds[i];
        if ((k !== BtfKind.Enum && k !== BtfKind.Enum64) || !this.nameIs(this.buf.readUInt32LE(this.offsets[i]!), want, name)) continue;
        const t = this.type(this.firstId + i);
        if (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) return enumInfoOf(t);
      }
      return undefined;
    }
    for (const id of this.names().get(name) ?? []) {
      const k = this.kindOf(id);
      if (k === BtfKind.Enum || k === BtfKind.Enum64) {
        const t = this.type(id);
        if (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) return enumInfoOf(t);
      }
    }
    return undefined;
  }

  /** Gadget discovery markers (ig-spec §3.1); computed once. */
  markers(): GadgetMarkers {
    return (this.markerCache ??= collectMarkers(this));
  }

  /** Flattened fields of `struct name` (or union, or a typedef of either). Throws if absent. */
  structLayout(name: string): StructLayout {
    const id = this.findStructId(name);
    if (id === undefined) throw new Error(`BTF has no struct or union named "${name}"`);
    return structLayoutOf(this, id);
  }

  /** Flattened fields of the struct/union at `id` (typedefs and modifiers are followed). */
  structLayoutById(id: number): StructLayout {
    return structLayoutOf(this, id);
  }

  /** Describes a global variable (usually a `const volatile` param); undefined if no such VAR. */
  varInfo(name: string): VarInfo | undefined {
    const v = this.typesByName(name, BtfKind.Var)[0] as BtfVar | undefined;
    if (!v) return undefined;
    return varInfoOf(this, v, this.placements().get(v.id));
  }

  /** Variables of a DATASEC (".rodata", ".bss", ...) with their offsets; [] if absent. */
  datasecVars(secName: string): DatasecVar[] {
    const sec = this.typesByName(secName, BtfKind.Datasec)[0] as BtfDatasec | undefined;
    if (!sec) return [];
    return sec.vars.map((v) => ({ name: this.type(v.type).name, typeId: v.type, offset: v.offset, size: v.size }));
  }

  /** All DATASEC names present, e.g. for listing what sections carry globals. */
  datasecNames(): string[] {
    const out: string[] = [];
    for (let id = 1; id < this.nextId; id++) if (this.kindOf(id) === BtfKind.Datasec) out.push(this.type(id).name);
    return out;
  }

  /** Name at a string-section offset (offsets below strIdBase live in the base BTF). */
  str(off: number): string {
    if (off < this.strIdBase) return this.base!.str(off);
    const rel = off - this.strIdBase;
    if (rel >= this.strLen) throw new Error(`BTF string offset ${off} out of range`);
    const start = this.strStart + rel;
    const limit = this.strStart + this.strLen;
    let end = this.buf.indexOf(0, start);
    if (end < 0 || end > limit) end = limit;
    return this.buf.toString('utf8', start, end);
  }

  /** Whether the string at `off` is `want` (the bytes of `name`), without decoding it. */
  private nameIs(off: number, want: Buffer, name: string): boolean {
    if (off < this.strIdBase) return this.base!.str(off) === name;
    const start = this.strStart + off - this.strIdBase;
    const end = start + want.length;
    if (end >= this.strStart + this.strLen) return false; // no room for the name and its NUL
    return this.buf[end] === 0 && this.buf.compare(want, 0, want.length, start, end) === 0;
  }

  private findStructId(name: string): number | undefined {
    const ids = this.names().get(name) ?? [];
    const byKind = (k: BtfKind) => ids.find((id) => this.kindOf(id) === k);
    const direct = byKind(BtfKind.Struct) ?? byKind(BtfKind.Union);
    if (direct !== undefined) return direct;
    const td = byKind(BtfKind.Typedef);
    if (td !== undefined) {
      const k = this.resolve(td).kind;
      if (k === BtfKind.Struct || k === BtfKind.Union) return td;
    }
    return undefined;
  }

  private names(): Map<string, number[]> {
    if (this.nameIndex) return this.nameIndex;
    const idx = this.base ? cloneIndex(this.base.names()) : new Map<string, number[]>();
    for (let i = 0; i < this.offsets.length; i++) {
      const nameOff = this.buf.readUInt32LE(this.offsets[i]);
      if (nameOff === 0) continue;
      const name = this.str(nameOff);
      const list = idx.get(name);
      if (list) list.push(this.firstId + i); else idx.set(name, [this.firstId + i]);
    }
    return (this.nameIndex = idx);
  }

  private placements(): Map<number, VarPlacement> {
    if (this.varPlacement) return this.varPlacement;
    const m = new Map<number, VarPlacement>();
    for (let id = 1; id < this.nextId; id++) {
      if (this.kindOf(id) !== BtfKind.Datasec) continue;
      const sec = this.type(id) as BtfDatasec;
      for (const v of sec.vars) m.set(v.type, { section: sec.name, offset: v.offset, size: v.size });
    }
    return (this.varPlacement = m);
  }

  // Clang emits DATASEC size 0 and variable offsets 0 in .o files (the linker would fill them in);
  // the real values come from the ELF section headers and symbol table, as libbpf does at load.
  private fixupDatasecs(elf: ElfFile): void {
    let symbols: Map<string, bigint> | undefined; // "<section index>/<name>" -> value
    for (let i = 0; i < this.kinds.length; i++) {
      if (this.kinds[i] !== BtfKind.Datasec) continue;
      const sec = this.type(this.firstId + i) as BtfDatasec;
      const elfSec = elf.section(sec.name);
      if (!elfSec) continue; // .kconfig / .ksyms have no ELF section
      if (sec.size === 0) sec.size = elfSec.size;
      symbols ??= new Map(elf.symbols().map((s) => [`${s.shndx}/${s.name}`, s.value]));
      for (const v of sec.vars) {
        const value = symbols.get(`${elfSec.index}/${this.type(v.type).name}`);
        if (value !== undefined) v.offset = Number(value);
      }
    }
  }

  private badId(id: number): never {
    throw new Error(`BTF type id ${id} out of range (valid: 0..${this.nextId - 1})`);
  }

  private decode(id: number, o: number): BtfType {
    const b = this.buf;
    const name = this.str(b.readUInt32LE(o));
    const info = b.readUInt32LE(o + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const sizeOrType = b.readUInt32LE(o + 8);
    const p = o + TYPE_HDR_LEN;
    switch (kind) {
      case BtfKind.Int: {
        const enc = b.readUInt32LE(p);
        const encoding = (enc >>> 24) & 0x0f;
        return {
          id, name, kind, size: sizeOrType,
          signed: (encoding & 1) !== 0, char: (encoding & 2) !== 0, bool: (encoding & 4) !== 0,
          bitOffset: (enc >>> 16) & 0xff, bits: enc & 0xff,
        };
      }
      case BtfKind.Ptr:
      case BtfKind.Typedef: case BtfKind.Volatile: case BtfKind.Const: case BtfKind.Restrict: case BtfKind.TypeTag:
        return { id, name, kind, type: sizeOrType };
      case BtfKind.Array:
        return { id, name, kind, type: b.readUInt32LE(p), indexType: b.readUInt32LE(p + 4), nelems: b.readUInt32LE(p + 8) };
      case BtfKind.Struct: case BtfKind.Union: {
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const q = p + i * 12;
          const off = b.readUInt32LE(q + 8);
          members.push({
            name: this.str(b.readUInt32LE(q)),
            type: b.readUInt32LE(q + 4),
            // With kind_flag set, the top 8 bits carry the bitfield width.
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          });
        }
        return { id, name, kind, size: sizeOrType, members };
      }
      case BtfKind.Enum: case BtfKind.Enum64: {
        const wide = kind === BtfKind.Enum64;
        const values = [];
        for (let i = 0; i < vlen; i++) {
          const q = p + i * (wide ? 12 : 8);
          let value: bigint;
          if (wide) {
            const v = (BigInt(b.readUInt32LE(q + 8)) << 32n) | BigInt(b.readUInt32LE(q + 4));
            value = kflag ? BigInt.asIntN(64, v) : v;
          } else {
            value = BigInt(kflag ? b.readInt32LE(q + 4) : b.readUInt32LE(q + 4));
          }
          values.push({ name: this.str(b.readUInt32LE(q)), value });
        }
        return { id, name, kind, size: sizeOrType, signed: kflag, values };
      }
      case BtfKind.Fwd:
        return { id, name, kind, union: kflag };
      case BtfKind.Func:
        return { id, name, kind, type: sizeOrType, linkage: vlen };
      case BtfKind.FuncProto: {
        const params = [];
        for (let i = 0; i < vlen; i++) {
          params.push({ name: this.str(b.readUInt32LE(p + i * 8)), type: b.readUInt32LE(p + i * 8 + 4) });
        }
        return { id, name, kind, returnType: sizeOrType, params };
      }
      case BtfKind.Var:
        return { id, name, kind, type: sizeOrType, linkage: b.readUInt32LE(p) };
      case BtfKind.Datasec: {
        const vars = [];
        for (let i = 0; i < vlen; i++) {
          const q = p + i * 12;
          vars.push({ type: b.readUInt32LE(q), offset: b.readUInt32LE(q + 4), size: b.readUInt32LE(q + 8) });
        }
        return { id, name, kind, size: sizeOrType, vars };
      }
      case BtfKind.Float:
        return { id, name, kind, size: sizeOrType };
      case BtfKind.DeclTag:
        return { id, name, kind, type: sizeOrType, componentIdx: b.readInt32LE(p) };
      default:
        throw new Error(`unsupported BTF kind ${kind} for type ${id}`);
    }
  }
}

/** Bytes following the 12-byte common header for a record of this kind; -1 if unknown. */
function trailerLen(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.Int: case BtfKind.Var: case BtfKind.DeclTag: return 4;
    case BtfKind.Array: return 12;
    case BtfKind.Struct: case BtfKind.Union: case BtfKind.Datasec: case BtfKind.Enum64: return 12 * vlen;
    case BtfKind.Enum: case BtfKind.FuncProto: return 8 * vlen;
    case BtfKind.Ptr: case BtfKind.Fwd: case BtfKind.Typedef: case BtfKind.Volatile: case BtfKind.Const:
    case BtfKind.Restrict: case BtfKind.Func: case BtfKind.Float: case BtfKind.TypeTag: return 0;
    default: return -1;
  }
}

function cloneIndex(src: Map<string, number[]>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [k, v] of src) out.set(k, v.slice());
  return out;
}

function readKernelFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`kernel BTF not available at ${path}: ${(err as Error).message}`);
  }
}
