// User-space symbolisation: an address in process <pid> → the function containing it, through the process'
// /proc/<pid>/maps (which file is mapped where) and the ELF symbol tables of the mapped files. Files are read
// through /proc/<pid>/root so container processes resolve against their own file system, and fall back to
// /proc/<pid>/map_files for deleted or replaced files. Symbol tables are cached by (device, inode); a process'
// mappings are cached until `invalidate()` (call it once per batch: mappings change as processes run).
import { statSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { ElfSymbolTable, readElfSymbols } from './elf.js';

export interface Mapping {
  start: number;
  end: number;
  offset: number;
  dev: string;
  inode: number;
  path: string;
}

/** Parse /proc/<pid>/maps text; keeps executable mappings only. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // 7f3c1a000000-7f3c1a022000 r-xp 00000000 fd:01 1234567   /usr/lib/x86_64-linux-gnu/libc.so.6
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m || m[3]![2] !== 'x') continue;
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), offset: parseInt(m[4]!, 16), dev: m[5]!, inode: Number(m[6]), path: m[7]! });
  }
  return out;
}

export class UserSymbolizer {
  private readonly tables = new Map<string, ElfSymbolTable | null>();
  private readonly maps = new Map<number, Mapping[] | null>();

  constructor(private readonly procRoot = '/proc') {}

  /** Forget the cached process mappings (symbol tables stay). */
  invalidate(): void {
    this.maps.clear();
  }

  private mappingsOf(pid: number): Mapping[] | null {
    let m = this.maps.get(pid);
    if (m === undefined) {
      try { m = parseMaps(readFileSync(`${this.procRoot}/${pid}/maps`, 'utf8')); } catch { m = null; }
      this.maps.set(pid, m);
    }
    return m;
  }

  private tableFor(pid: number, mp: Mapping): ElfSymbolTable | null {
    const key = `${mp.dev}:${mp.inode}:${mp.path}`;
    let t = this.tables.get(key);
    if (t !== undefined) return t;
    t = null;
    const path = mp.path.replace(/ \(deleted\)$/, '');
    const candidates = [
      `${this.procRoot}/${pid}/root${path}`,
      `${this.procRoot}/${pid}/map_files/${mp.start.toString(16)}-${mp.end.toString(16)}`,
    ];
    for (const c of candidates) {
      try {
        // Same file as the mapping? (an upgraded binary at the same path would give wrong names)
        if (mp.inode !== 0 && statSync(c).ino !== mp.inode) continue;
        t = readElfSymbols(c);
        break;
      } catch { /* try the next way in */ }
    }
    this.tables.set(key, t);
    return t;
  }

  /** Symbol of one address, or undefined. */
  symbol(pid: number, addr: number): string | undefined {
    const maps = this.mappingsOf(pid);
    if (!maps) return undefined;
    const mp = maps.find((x) => addr >= x.start && addr < x.end);
    if (!mp || !mp.path.startsWith('/')) return undefined;
    const t = this.tableFor(pid, mp);
    if (!t) return undefined;
    const vaddr = t.vaddrOfOffset(addr - mp.start + mp.offset);
    return vaddr === undefined ? undefined : t.lookup(vaddr);
  }

  /**
   * Upstream-style stack text: "[0]fn; [1]caller; " (unknown frames as "[n][unknown]"). Return addresses
   * (every frame but the first) point after the call: look up addr-1 so a call at a function's end resolves.
   */
  format(pid: number, addrs: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < addrs.length; i++) {
      const a = addrs[i]!;
      if (a === 0) break;
      s += `[${i}]${this.symbol(pid, i === 0 ? a : a - 1) ?? '[unknown]'}; `;
    }
    return s;
  }
}
