// Finding what a killed ig left behind, by ids the test owns: other ig processes run on this machine at the same
// time, so nothing here compares machine-wide counts. Ownership is established by
//  - kernel objects: id allocated after the test's start snapshot, name one of the test's gadget objects, and held
//    by no process (no fd in any /proc/*/fdinfo, no held link, no held program using the map) — what a killed
//    process can only leave behind through a pin, a tc filter or a leaked holder;
//  - processes: the environment marker and process group the test gave the ig processes it started;
//  - tracefs probe entries: libbpf names legacy probe events after the pid that created them.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { ElfFile } from '../../src/bpf/btf/elf.js';

interface BpftoolProg { id: number; name?: string; map_ids?: number[] }
interface BpftoolMap { id: number; name?: string }
interface BpftoolLink { id: number; prog_id?: number }

function bpftool<T>(what: 'prog' | 'map' | 'link'): T[] {
  const out = execFileSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.trim() ? (JSON.parse(out) as T[]) : [];
}

export interface KernelBaseline {
  maxProg: number;
  maxMap: number;
  maxLink: number;
  pins: Set<string>;
}

function listPins(dir = '/sys/fs/bpf', out = new Set<string>()): Set<string> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out; // no bpffs mounted: nothing can be pinned
  }
  for (const n of names) {
    const p = path.join(dir, n);
    out.add(p);
    try {
      listPins(p, out);
    } catch {
      /* a pin, not a directory */
    }
  }
  return out;
}

export function kernelBaseline(): KernelBaseline {
  const max = (xs: { id: number }[]) => xs.reduce((m, x) => Math.max(m, x.id), 0);
  return { maxProg: max(bpftool<BpftoolProg>('prog')), maxMap: max(bpftool<BpftoolMap>('map')), maxLink: max(bpftool<BpftoolLink>('link')), pins: listPins() };
}

/** Program and map names (as the kernel truncates them, 15 bytes) of a gadget's eBPF object. */
export function objectNames(ebpf: Buffer): { progs: string[]; maps: string[] } {
  const elf = new ElfFile(ebpf);
  const mapsSec = elf.section('.maps')?.index;
  const progs: string[] = [];
  const maps: string[] = [];
  for (const s of elf.symbols()) {
    if (!s.name) continue;
    if (s.type === 2 && s.bind === 1) progs.push(s.name.slice(0, 15));
    else if (mapsSec !== undefined && s.shndx === mapsSec) maps.push(s.name.slice(0, 15));
  }
  return { progs, maps };
}

/** Every bpf prog/map/link id some process holds an fd for. */
function heldIds(): { progs: Set<number>; maps: Set<number>; links: Set<number> } {
  const held = { progs: new Set<number>(), maps: new Set<number>(), links: new Set<number>() };
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // the process exited meanwhile
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed meanwhile
      }
      if (!target.startsWith('anon_inode:bpf')) continue;
      let info: string;
      try {
        info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue; // closed meanwhile
      }
      const num = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
      if (!Number.isNaN(num('prog_id'))) held.progs.add(num('prog_id'));
      if (!Number.isNaN(num('map_id'))) held.maps.add(num('map_id'));
      if (!Number.isNaN(num('link_id'))) held.links.add(num('link_id'));
    }
  }
  return held;
}

function leakedOnce(base: KernelBaseline, names: { progs: Set<string>; maps: Set<string> }): string[] {
  const progs = bpftool<BpftoolProg>('prog');
  const maps = bpftool<BpftoolMap>('map');
  const links = bpftool<BpftoolLink>('link');
  const held = heldIds();
  for (const l of links) if (held.links.has(l.id) && l.prog_id) held.progs.add(l.prog_id);
  const out: string[] = [];
  const ourProgs = new Set<number>();
  for (const p of progs) {
    if (p.id <= base.maxProg || !names.progs.has(p.name ?? '')) continue;
    ourProgs.add(p.id);
    if (!held.progs.has(p.id)) out.push(`prog ${p.id} ${p.name}`);
  }
  const usedByHeldProg = new Set<number>();
  for (const p of progs) if (held.progs.has(p.id)) for (const m of p.map_ids ?? []) usedByHeldProg.add(m);
  for (const m of maps) {
    if (m.id <= base.maxMap || !names.maps.has(m.name ?? '')) continue;
    if (!held.maps.has(m.id) && !usedByHeldProg.has(m.id)) out.push(`map ${m.id} ${m.name}`);
  }
  for (const l of links) {
    if (l.id <= base.maxLink || !l.prog_id || !ourProgs.has(l.prog_id)) continue;
    if (!held.links.has(l.id)) out.push(`link ${l.id} (prog ${l.prog_id})`);
  }
  for (const p of listPins()) if (!base.pins.has(p) && [...names.progs, ...names.maps].some((n) => path.basename(p).includes(n))) out.push(`pin ${p}`);
  return out;
}

/**
 * Kernel objects of the test's gadgets left with no holder. The kernel frees closed objects asynchronously, so an
 * object counts as leaked only if it is still there after `settleMs`.
 */
export async function leakedKernelObjects(base: KernelBaseline, names: { progs: Set<string>; maps: Set<string> }, settleMs = 1500): Promise<string[]> {
  const first = leakedOnce(base, names);
  if (!first.length) return [];
  await new Promise((r) => setTimeout(r, settleMs));
  const again = new Set(leakedOnce(base, names));
  return first.filter((x) => again.has(x));
}

/** kprobe/uprobe events in tracefs that libbpf created for one of `pids` (legacy probes are named after the pid). */
export function probeEntriesOf(pids: Set<number>): string[] {
  const out: string[] = [];
  for (const f of ['/sys/kernel/tracing/kprobe_events', '/sys/kernel/tracing/uprobe_events']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // tracefs not mounted here: no legacy probes either
    }
    for (const line of text.split('\n')) {
      const m = /libbpf_(\d+)_/.exec(line);
      if (m && pids.has(Number(m[1]))) out.push(line);
    }
  }
  return out;
}

/** Processes whose environment carries `marker` (children inherit it, also when they leave the process group). */
export function processesWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`).includes(marker)) out.push(Number(pid));
    } catch {
      /* exited meanwhile, or a kernel thread */
    }
  }
  return out;
}

/** Does any process of process group `pgid` still run? */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
