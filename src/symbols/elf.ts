// Function symbols of an ELF64 (little-endian) file for user-stack symbolisation: the loadable segments (to turn
// a file offset into a virtual address) and the sorted function symbols of .symtab and .dynsym. Only the headers
// and the symbol/string tables are read, so large binaries cost what their symbol tables cost.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

export interface LoadSegment { offset: number; vaddr: number; filesz: number }

export class ElfSymbolTable {
  /** Symbol start addresses (ELF virtual addresses), ascending. */
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly names: string[];

  constructor(readonly segments: LoadSegment[], syms: { start: number; size: number; name: string }[]) {
    syms.sort((a, b) => a.start - b.start || b.size - a.size);
    // Drop duplicates (same start, e.g. the .symtab and .dynsym copy of one function): keep the first.
    const kept: typeof syms = [];
    for (const s of syms) if (kept.length === 0 || kept[kept.length - 1]!.start !== s.start) kept.push(s);
    this.starts = new Float64Array(kept.length);
    this.ends = new Float64Array(kept.length);
    this.names = new Array<string>(kept.length);
    kept.forEach((s, i) => {
      this.starts[i] = s.start;
      this.ends[i] = s.size > 0 ? s.start + s.size : Infinity;
      this.names[i] = s.name;
    });
  }

  get size(): number { return this.names.length; }

  /** Virtual address of a file offset (through the PT_LOAD segment holding it). */
  vaddrOfOffset(off: number): number | undefined {
    for (const s of this.segments) if (off >= s.offset && off < s.offset + s.filesz) return off - s.offset + s.vaddr;
    return undefined;
  }

  /** Function containing `vaddr`. A symbol without size covers everything up to the next one. */
  lookup(vaddr: number): string | undefined {
    const a = this.starts;
    let lo = 0;
    let hi = a.length - 1;
    if (hi < 0 || vaddr < a[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (a[mid]! <= vaddr) lo = mid;
      else hi = mid - 1;
    }
    if (vaddr >= this.ends[lo]!) return undefined;
    return this.names[lo];
  }
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n <= 0) throw new Error(`ELF truncated at ${pos + got}`);
    got += n;
  }
  return b;
}

function cstr(b: Buffer, at: number): string {
  if (at >= b.length) return '';
  const end = b.indexOf(0, at);
  return b.toString('utf8', at, end < 0 ? b.length : end);
}

/** Read the symbol table of the ELF file at `path`. Throws on a non-ELF64-LE file. */
export function readElfSymbols(path: string): ElfSymbolTable {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const eh = readAt(fd, 0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
    if (eh[4] !== 2 || eh[5] !== 1) throw new Error(`${path}: only 64-bit little-endian ELF is supported`);
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);

    const segments: LoadSegment[] = [];
    if (phoff > 0 && phnum > 0 && phoff + phnum * phentsize <= fileSize) {
      const ph = readAt(fd, phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        if (ph.readUInt32LE(o) !== PT_LOAD) continue;
        segments.push({ offset: Number(ph.readBigUInt64LE(o + 8)), vaddr: Number(ph.readBigUInt64LE(o + 16)), filesz: Number(ph.readBigUInt64LE(o + 32)) });
      }
    }

    const syms: { start: number; size: number; name: string }[] = [];
    if (shoff > 0 && shnum > 0 && shoff + shnum * shentsize <= fileSize) {
      const sh = readAt(fd, shoff, shnum * shentsize);
      const sec = (i: number) => {
        const o = i * shentsize;
        return { type: sh.readUInt32LE(o + 4), offset: Number(sh.readBigUInt64LE(o + 24)), size: Number(sh.readBigUInt64LE(o + 32)), link: sh.readUInt32LE(o + 40), entsize: Number(sh.readBigUInt64LE(o + 56)) };
      };
      for (let i = 0; i < shnum; i++) {
        const s = sec(i);
        if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
        if (s.link >= shnum || s.entsize < 24 || s.offset + s.size > fileSize) continue;
        const str = sec(s.link);
        if (str.offset + str.size > fileSize) continue;
        const tab = readAt(fd, s.offset, s.size);
        const strtab = readAt(fd, str.offset, str.size);
        for (let o = 0; o + 24 <= tab.length; o += s.entsize) {
          const info = tab[o + 4]!;
          const type = info & 0xf;
          if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
          const shndx = tab.readUInt16LE(o + 6);
          if (shndx === 0) continue; // undefined (imported)
          const value = Number(tab.readBigUInt64LE(o + 8));
          if (value === 0) continue;
          const name = cstr(strtab, tab.readUInt32LE(o));
          if (!name) continue;
          syms.push({ start: value, size: Number(tab.readBigUInt64LE(o + 16)), name });
        }
      }
    }
    return new ElfSymbolTable(segments, syms);
  } finally {
    closeSync(fd);
  }
}
