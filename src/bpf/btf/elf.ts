// Minimal ELF64 little-endian reader: enough to pull .BTF out of a BPF object and to map
// global variables to their section offsets. Kept machine-agnostic so other code (e.g. uprobe
// symbol lookup) can reuse it; BPF-specific checks live in assertBpf().

export const EM_BPF = 247;
export const SHT_SYMTAB = 2;
export const SHT_NOBITS = 8;

const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  /** STB_* binding (0 local, 1 global, 2 weak). */
  bind: number;
  /** STT_* type (0 notype, 1 object, 2 func, 3 section, 4 file). */
  type: number;
  /** Section header index the symbol lives in (may be a special SHN_* value). */
  shndx: number;
}

export class ElfFile {
  readonly machine: number;
  readonly sections: ElfSection[];
  private symbolCache?: ElfSymbol[];

  constructor(private readonly buf: Buffer) {
    if (buf.length < 16 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
      throw new Error('not an ELF file');
    }
    if (buf[4] !== 2) throw new Error(`unsupported ELF class ${buf[4]}: only 64-bit ELF is supported`);
    if (buf[5] !== 1) throw new Error('unsupported ELF byte order: only little-endian ELF is supported');
    if (buf.length < EHDR_SIZE) throw new Error(`ELF truncated: header needs ${EHDR_SIZE} bytes, got ${buf.length}`);

    this.machine = buf.readUInt16LE(18);
    const shoff = this.num(buf.readBigUInt64LE(0x28), 'e_shoff');
    const shentsize = buf.readUInt16LE(0x3a);
    let shnum = buf.readUInt16LE(0x3c);
    let shstrndx = buf.readUInt16LE(0x3e);

    if (shoff === 0) {
      this.sections = [];
      return;
    }
    if (shentsize !== SHDR_SIZE) throw new Error(`unexpected ELF section header size ${shentsize}`);
    this.checkRange(shoff, SHDR_SIZE, 'section header table');
    // Extended numbering: with >= 0xff00 sections the real counts live in section header 0.
    if (shnum === 0) shnum = this.num(buf.readBigUInt64LE(shoff + 32), 'sh_size[0]');
    if (shstrndx === SHN_XINDEX) shstrndx = buf.readUInt32LE(shoff + 40);
    this.checkRange(shoff, shnum * SHDR_SIZE, 'section header table');

    const raw: ElfSection[] = [];
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * SHDR_SIZE;
      nameOffs.push(buf.readUInt32LE(o));
      raw.push({
        index: i,
        name: '',
        type: buf.readUInt32LE(o + 4),
        flags: buf.readBigUInt64LE(o + 8),
        offset: this.num(buf.readBigUInt64LE(o + 24), 'sh_offset'),
        size: this.num(buf.readBigUInt64LE(o + 32), 'sh_size'),
        link: buf.readUInt32LE(o + 40),
        info: buf.readUInt32LE(o + 44),
        entsize: this.num(buf.readBigUInt64LE(o + 56), 'sh_entsize'),
      });
    }
    if (shstrndx !== SHN_UNDEF) {
      if (shstrndx >= raw.length) throw new Error(`ELF section name table index ${shstrndx} out of range`);
      const strtab = this.rawData(raw[shstrndx]);
      raw.forEach((s, i) => { s.name = cstr(strtab, nameOffs[i], 'section name'); });
    }
    this.sections = raw;
  }

  /** Throws unless this is a BPF object: the error callers want for a wrong gadget file. */
  assertBpf(): void {
    if (this.machine !== EM_BPF) throw new Error(`ELF is not a BPF object (e_machine=${this.machine})`);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** Section contents without copying. NOBITS sections (.bss) read as zeros, as they would be loaded. */
  sectionData(name: string): Buffer | undefined {
    const s = this.section(name);
    return s ? this.rawData(s) : undefined;
  }

  /** Entries of .symtab (index 0, the null symbol, is omitted). Empty if there is no symbol table. */
  symbols(): ElfSymbol[] {
    if (this.symbolCache) return this.symbolCache;
    const out: ElfSymbol[] = [];
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    if (symtab) {
      const data = this.rawData(symtab);
      const strs = symtab.link < this.sections.length ? this.rawData(this.sections[symtab.link]) : Buffer.alloc(0);
      for (let o = SYM_SIZE; o + SYM_SIZE <= data.length; o += SYM_SIZE) {
        const info = data[o + 4];
        out.push({
          name: cstr(strs, data.readUInt32LE(o), 'symbol name'),
          bind: info >> 4,
          type: info & 0xf,
          shndx: data.readUInt16LE(o + 6),
          value: data.readBigUInt64LE(o + 8),
          size: data.readBigUInt64LE(o + 16),
        });
      }
    }
    this.symbolCache = out;
    return out;
  }

  private rawData(s: ElfSection): Buffer {
    if (s.type === SHT_NOBITS) return Buffer.alloc(s.size);
    this.checkRange(s.offset, s.size, `section ${s.name || `#${s.index}`}`);
    return this.buf.subarray(s.offset, s.offset + s.size);
  }

  private checkRange(off: number, len: number, what: string): void {
    if (off + len > this.buf.length) {
      throw new Error(`ELF truncated: ${what} spans bytes ${off}..${off + len}, file has ${this.buf.length}`);
    }
  }

  private num(v: bigint, what: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`ELF ${what} too large: ${v}`);
    return Number(v);
  }
}

function cstr(buf: Buffer, off: number, what: string): string {
  if (off >= buf.length) {
    if (off === 0) return '';
    throw new Error(`ELF ${what} offset ${off} out of range`);
  }
  let end = buf.indexOf(0, off);
  if (end < 0) end = buf.length;
  return buf.toString('utf8', off, end);
}
