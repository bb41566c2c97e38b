// Where a process's resident set is, by mapping (/proc/PID/smaps), and a sampler that keeps the split at the
// moment the resident set was largest (VmHWM only says how large, not what it was made of).
import { readFileSync } from 'node:fs';

/** Resident kB by kind of mapping. */
export interface RssSplit {
  /** VmRSS when the split was taken. */
  rssKb: number;
  /** Sum of every mapping's Rss (equals rssKb up to rounding). */
  groups: Record<string, number>;
  /** The largest anonymous mappings (size and resident kB), to tell V8's heap, malloc arenas and stacks apart. */
  topAnon: { sizeKb: number; rssKb: number; name: string }[];
  /** /proc/PID/smaps_rollup at the same moment, kB: what RSS does not say (shared page-cache pages count in full there). */
  rollup?: MemoryRollup;
  /** PeakRssSampler: each figure's largest value over the window. */
  rollupPeak?: MemoryRollup;
}

/** PSS (shared pages divided among their users), USS (pages only this process maps), anonymous, shared clean. */
export interface MemoryRollup { pssKb: number; ussKb: number; anonKb: number; sharedCleanKb: number; privateDirtyKb: number }

export function memoryRollup(pid: number): MemoryRollup | undefined {
  let t: string;
  try {
    t = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined; // the process is gone
  }
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0);
  return { pssKb: kb('Pss'), ussKb: kb('Private_Clean') + kb('Private_Dirty'), anonKb: kb('Anonymous'), sharedCleanKb: kb('Shared_Clean'), privateDirtyKb: kb('Private_Dirty') };
}

/**
 * Group names:
 *   node: headers+relocs   the node binary's first read-only segment (ELF tables, .dynsym, .rela.dyn)
 *   node: code             its executable segment (V8, Node, the embedded builtins)
 *   node: rodata           its second read-only segment (.rodata: ICU data, V8's snapshot, …; .eh_frame)
 *   node: data (file)      clean file pages of its writable segment; COW-written pages count as anon
 *   ring (bpf-map)         BPF maps mapped into the process (the reader's ring buffer)
 *   addon + libbpf         ig_native.node, libbpf, libelf, libz
 *   other libraries        libc, libstdc++, …, other .node files
 *   anon: malloc heap      [heap] (glibc's main arena, brk)
 *   anon: stacks           [stack] and thread stacks (8 MiB mappings)
 *   anon: other            every other anonymous page (V8's heap, thread malloc arenas, batches, COW data)
 */
export function rssSplit(pid: number, nodeExe = process.execPath): RssSplit | undefined {
  let text: string;
  let status: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'latin1');
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined; // the process is gone
  }
  const groups: Record<string, number> = {};
  const add = (g: string, kb: number) => { if (kb) groups[g] = (groups[g] ?? 0) + kb; };
  const anon: RssSplit['topAnon'] = [];
  let nodeRo = 0;
  let cur: { name: string; perm: string; sizeKb: number; rss: number; anon: number } | undefined;
  const flush = () => {
    if (!cur) return;
    const { name, perm, sizeKb, rss, anon: an } = cur;
    const isNode = name === nodeExe || name.endsWith('/node');
    const file = name.startsWith('/');
    if (isNode) {
      if (perm.startsWith('r-x')) add('node: code', rss);
      else if (perm.startsWith('r--')) add(nodeRo++ === 0 ? 'node: headers+relocs' : 'node: rodata', rss);
      else { add('node: data (file)', rss - an); add('anon: other', an); }
    } else if (name.includes('bpf-map')) {
      add('ring (bpf-map)', rss);
    } else if (file) {
      const lib = /ig_native\.node$|libbpf|libelf|libz\.so/.test(name) ? 'addon + libbpf' : 'other libraries';
      add(lib, rss - an);
      add('anon: other', an);
    } else if (name === '[heap]') {
      add('anon: malloc heap', rss);
    } else if (name.startsWith('[stack') || sizeKb === 8192) {
      add('anon: stacks', rss);
    } else if (name.startsWith('[v')) {
      add('kernel (vdso, vvar)', rss);
    } else {
      add('anon: other', rss);
      if (rss > 0) anon.push({ sizeKb, rssKb: rss, name });
    }
  };
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      flush();
      cur = { name: m[4]!, perm: m[3]!, sizeKb: (parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 1024, rss: 0, anon: 0 };
      continue;
    }
    const r = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (r && cur) {
      if (r[1] === 'Rss') cur.rss = Number(r[2]);
      else cur.anon = Number(r[2]);
    }
  }
  flush();
  anon.sort((a, b) => b.rssKb - a.rssKb);
  return { rssKb: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0), groups, topAnon: anon.slice(0, 8), rollup: memoryRollup(pid) };
}

/** VmRSS in kB, or undefined when the process is gone. */
function vmRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples a process's VmRSS every `everyMs` and takes the full split (smaps, a few ms) whenever VmRSS is at a new
 * high: `peak` is then what the resident set was made of at (about) its largest.
 */
export class PeakRssSampler {
  peak: RssSplit | undefined;
  /** The largest value of each smaps_rollup figure over every sample (each may come from a different sample). */
  rollupPeak: MemoryRollup | undefined;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private maxKb = 0;

  constructor(private readonly pid: number, everyMs = 50) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs).unref(); // a failed run must not keep the bench alive
  }

  sample(): void {
    const kb = vmRss(this.pid);
    if (kb === undefined) return;
    this.samples++;
    const r = memoryRollup(this.pid);
    if (r) {
      const p = (this.rollupPeak ??= { ...r });
      for (const k of Object.keys(r) as (keyof MemoryRollup)[]) p[k] = Math.max(p[k], r[k]);
    }
    if (kb <= this.maxKb) return;
    this.maxKb = kb;
    const s = rssSplit(this.pid);
    if (s) this.peak = s;
  }

  stop(): RssSplit | undefined {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    if (this.peak) this.peak.rollupPeak = this.rollupPeak;
    return this.peak;
  }
}
