// Kernel symbols from /proc/kallsyms: address → name of the function containing it. Loaded once per process
// (on first use) into sorted parallel arrays; lookups are a binary search.
import { readFileSync } from 'node:fs';

export class KernelSymbols {
  private readonly addrs: BigUint64Array;
  private readonly names: string[];

  private constructor(addrs: BigUint64Array, names: string[]) {
    this.addrs = addrs;
    this.names = names;
  }

  /** Parse kallsyms text ("<hex addr> <type> <name>[\t[module]]" per line); keeps text (code) symbols. */
  static parse(text: string): KernelSymbols {
    const entries: { a: bigint; n: string }[] = [];
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      const sp1 = line.indexOf(' ');
      if (sp1 <= 0) continue;
      const type = line.charCodeAt(sp1 + 1) | 0x20; // lower-case
      if (type !== 0x74 /* t */ && type !== 0x77 /* w */) continue;
      let name = line.slice(sp1 + 3);
      const tab = name.indexOf('\t');
      if (tab >= 0) name = name.slice(0, tab) + ' ' + name.slice(tab + 1).trim();
      const a = BigInt('0x' + line.slice(0, sp1));
      if (a === 0n) continue; // addresses hidden (kptr_restrict): useless
      entries.push({ a, n: name });
    }
    entries.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
    const addrs = new BigUint64Array(entries.length);
    const names = new Array<string>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      addrs[i] = entries[i]!.a;
      names[i] = entries[i]!.n;
    }
    return new KernelSymbols(addrs, names);
  }

  private static shared?: KernelSymbols;

  /** The running kernel's symbols (cached). Throws when /proc/kallsyms cannot be read. */
  static host(): KernelSymbols {
    KernelSymbols.shared ??= KernelSymbols.parse(readFileSync('/proc/kallsyms', 'utf8'));
    return KernelSymbols.shared;
  }

  get size(): number { return this.addrs.length; }

  /** Name of the symbol at or below `addr`, or undefined when it is below every symbol. */
  lookup(addr: bigint): string | undefined {
    const a = this.addrs;
    let lo = 0;
    let hi = a.length - 1;
    if (hi < 0 || addr < a[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (a[mid]! <= addr) lo = mid;
      else hi = mid - 1;
    }
    return this.names[lo];
  }

  has(name: string): boolean {
    return this.names.includes(name);
  }
}
