/**
 * Helpers for the LocalManager tests: the ig command line for the harness runtimes, and a look at the BPF
 * objects a running ig holds (through /proc/<pid>/fdinfo and bpftool), so that a test can check what the
 * kernel itself does, not only what ig prints.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface RuntimeFlags {
  containerdSocket: string;
  containerdNamespace: string;
  podmanSocket: string;
}

/** `-r containerd,podman` plus the harness runtimes' sockets and namespace. */
export function runtimeArgs(f: RuntimeFlags): string[] {
  return ['-r', 'containerd,podman', '--containerd-socketpath', f.containerdSocket,
    '--containerd-namespace', f.containerdNamespace, '--podman-socketpath', f.podmanSocket];
}

export interface BpfMapFd { fd: number; id: number; type: number; keySize: number; valueSize: number; maxEntries: number }

/** BPF maps and programs process `pid` holds file descriptors on. */
export function bpfObjectsOf(pid: number): { maps: BpfMapFd[]; progIds: number[] } {
  const maps: BpfMapFd[] = [];
  const progIds = new Set<number>();
  let fds: string[] = [];
  try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { return { maps, progIds: [] }; }
  for (const name of fds) {
    let link = '';
    let info = '';
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${name}`);
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${name}`, 'utf8');
    } catch { continue; }
    const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    if (link === 'anon_inode:bpf-map') {
      maps.push({ fd: Number(name), id: num('map_id'), type: num('map_type'), keySize: num('key_size'), valueSize: num('value_size'), maxEntries: num('max_entries') });
    } else if (link === 'anon_inode:bpf-prog') {
      progIds.add(num('prog_id'));
    }
  }
  return { maps, progIds: [...progIds] };
}

function bpftool<T>(args: string[]): T | undefined {
  const r = spawnSync('bpftool', ['-j', ...args], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout) as T;
}

/** The mount-namespace filter map LocalManager made (HASH, key 8, value 4, 1024 entries) in ig's fds. */
export function mntnsFilterMapId(pid: number): number | undefined {
  return bpfObjectsOf(pid).maps.find((m) => m.type === 1 && m.keySize === 8 && m.valueSize === 4 && m.maxEntries === 1024)?.id;
}

/** Keys (u64 little endian) of a BPF hash map with 8-byte keys. */
export function mapKeysU64(id: number): bigint[] {
  const dump = bpftool<{ key: string[] }[]>(['map', 'dump', 'id', String(id)]) ?? [];
  return dump.map((e) => Buffer.from(e.key.map((h) => Number(h))).readBigUInt64LE(0));
}

/** Map ids a program uses. */
export function progMapIds(id: number): number[] {
  return bpftool<{ map_ids?: number[] }>(['prog', 'show', 'id', String(id)])?.map_ids ?? [];
}

/** The BTF-formatted .rodata variables of a program's object, e.g. { gadget_filter_by_mntns: true }. */
export function rodataVars(progId: number): Record<string, unknown> | undefined {
  for (const mid of progMapIds(progId)) {
    const show = bpftool<{ name?: string }>(['map', 'show', 'id', String(mid)]);
    if (!show?.name?.endsWith('.rodata')) continue;
    const dump = bpftool<{ formatted?: { value?: Record<string, Record<string, unknown>[]> } }[]>(['map', 'dump', 'id', String(mid)]);
    const vars = dump?.[0]?.formatted?.value?.['.rodata'];
    if (!vars) return undefined;
    return Object.assign({}, ...vars) as Record<string, unknown>;
  }
  return undefined;
}

/** The .rodata variables of the gadget's object among `progs` (ig also holds its enrichers' own programs). */
export function gadgetRodataVars(progs: number[]): Record<string, unknown> | undefined {
  for (const id of progs) {
    const v = rodataVars(id);
    if (v && 'gadget_filter_by_mntns' in v) return v;
  }
  return undefined;
}

/** Does a BPF program with this id still exist? */
export function progExists(id: number): boolean {
  return spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' }).status === 0;
}

/** Does a BPF map with this id still exist? */
export function mapExists(id: number): boolean {
  return spawnSync('bpftool', ['map', 'show', 'id', String(id)], { stdio: 'ignore' }).status === 0;
}

/** Entries below /sys/fs/bpf (to check nothing was pinned). */
export function pinnedEntries(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let ents: fs.Dirent[] = [];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      const p = `${d}/${e.name}`;
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk('/sys/fs/bpf');
  return out.sort();
}

/** Mount namespace inode of a pid. */
export function mntnsOf(pid: number): bigint {
  return BigInt(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/mnt`))![1]!);
}
