// The socket table: (network namespace, family, protocol, local port) → the socket and the process owning it,
// built in user space because this kernel has no kprobes, fentry or iterators to follow sockets from eBPF.
//
// One scan (of every network namespace, or of some):
//   1. every process's network namespace (readlink /proc/<pid>/ns/net);
//   2. for each namespace scanned: /proc/<pid>/net/{tcp,tcp6,udp,udp6} of one process in it (those files
//      show the namespace of the process, so no setns is needed). Reading them is the slow part (the kernel
//      walks its whole socket hash, a few ms per file), hence partial scans: a lookup that misses rescans
//      only its own namespace;
//   3. owners: the socket inodes among every process's fds (readlink /proc/<pid>/fd/* = "socket:[<ino>]"),
//      walked only when a socket appears whose owner is not known yet (or whose owner exited). A socket
//      shared by several processes (fork, SCM_RIGHTS) belongs to the one with the lowest pid, usually its
//      creator. Several sockets on one key (a TCP listener and the connections it accepted): the listener
//      wins, then any socket with a known owner.
// Entries that disappear stay answerable for `graceMs` (late events of a closed socket).
import * as fs from 'node:fs';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
const TCP_LISTEN = 0x0a;

export interface SocketOwner {
  pid: number;
  comm: string;
  uid: number;
  gid: number;
  ppid: number;
  pcomm: string;
  mntns: bigint;
  /** working directory and executable path (as the owner sees them: its own root), '' when unreadable */
  cwd: string;
  exepath: string;
}

export interface SocketEntry {
  netns: number;
  family: number;
  proto: number;
  port: number;
  inode: number;
  /** uid the kernel records for the socket (the uid column of /proc/net/*, as `ss -e` shows) */
  uid: number;
  state: number;
  owner?: SocketOwner;
  /** Date.now() when a scan no longer found it */
  goneAt?: number;
}

export function socketKey(netns: number, family: number, proto: number, port: number): string {
  return `${netns}/${family}/${proto}/${port}`;
}

const FILES: [string, number, number][] = [
  ['tcp', AF_INET, IPPROTO_TCP], ['tcp6', AF_INET6, IPPROTO_TCP],
  ['udp', AF_INET, IPPROTO_UDP], ['udp6', AF_INET6, IPPROTO_UDP],
];

/** Start time (field 22 of /proc/<pid>/stat), undefined when the process is gone. */
function startTime(procRoot: string, pid: number): string | undefined {
  let stat: string;
  try { stat = fs.readFileSync(`${procRoot}/${pid}/stat`, 'latin1'); } catch { return undefined; }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20)[19];
}

function nsInode(link: string): number {
  const m = /\[(\d+)\]/.exec(link);
  return m ? Number(m[1]) : 0;
}

/** Parse one /proc/net/{tcp,tcp6,udp,udp6} file. */
export function parseProcNet(text: string, netns: number, family: number, proto: number): SocketEntry[] {
  const out: SocketEntry[] = [];
  const lines = text.split('\n');
  for (let k = 1; k < lines.length; k++) {
    const f = lines[k]!.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = f[1]!;
    const colon = local.lastIndexOf(':');
    const inode = Number(f[9]);
    if (colon < 0 || !inode) continue; // TIME_WAIT and other orphans have no inode
    out.push({ netns, family, proto, port: parseInt(local.slice(colon + 1), 16), inode, uid: Number(f[7]), state: parseInt(f[3]!, 16) });
  }
  return out;
}

export interface SocketTableOptions {
  /** /proc (HOST_ROOT/proc when ig runs in a container) */
  procRoot?: string;
  /** how long a socket that went away still answers (default 2000 ms) */
  graceMs?: number;
  now?: () => number;
}

export class SocketTable {
  /** netns → (key → entry) */
  private readonly byNetns = new Map<number, Map<string, SocketEntry>>();
  private readonly lastScanOf = new Map<number, number>();
  private readonly procRoot: string;
  private readonly graceMs: number;
  private readonly now: () => number;
  /** socket inode → owning pid, from the last walk over every process's fds */
  private readonly inodeOwner = new Map<number, number>();
  /** inodes no process was found for in the last walk (held outside our view): no new walk for them */
  private readonly unresolved = new Set<number>();
  private readonly ownerCache = new Map<number, { start: string; owner: SocketOwner }>();
  lastScanAt = -Infinity;
  scans = 0;
  /** how many scans walked every process's fds */
  fdScans = 0;

  constructor(opts: SocketTableOptions = {}) {
    this.procRoot = opts.procRoot ?? `${process.env['HOST_ROOT'] ?? ''}/proc`;
    this.graceMs = opts.graceMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Rescan the sockets of the namespaces in `only` (default: every namespace that has a process) and
   * return the live entries of the namespaces scanned.
   */
  scan(only?: Iterable<number>): SocketEntry[] {
    const P = this.procRoot;
    const t = this.now();
    this.scans++;
    const want = only ? new Set(only) : undefined;
    if (!want) this.lastScanAt = t;
    const pids: number[] = [];
    for (const d of fs.readdirSync(P)) if (d.charCodeAt(0) >= 48 && d.charCodeAt(0) <= 57) pids.push(Number(d));
    pids.sort((a, b) => a - b);
    // 1. processes by network namespace
    const netnsPids = new Map<number, number[]>();
    for (const pid of pids) {
      let ns: number;
      try { ns = nsInode(fs.readlinkSync(`${P}/${pid}/ns/net`)); } catch { continue; } // gone, or no access
      if (!ns) continue;
      const list = netnsPids.get(ns);
      if (list) list.push(pid); else netnsPids.set(ns, [pid]);
    }
    // 2. sockets of each namespace scanned (a namespace without processes has none we could attribute)
    const scanned = want ?? new Set([...netnsPids.keys(), ...this.byNetns.keys()]);
    const found = new Map<number, SocketEntry[]>();
    for (const ns of scanned) {
      const mine: SocketEntry[] = [];
      for (const pid of netnsPids.get(ns) ?? []) { // the first process of the namespace whose files can be read
        let ok = true;
        for (const [file, family, proto] of FILES) {
          let text: string;
          try { text = fs.readFileSync(`${P}/${pid}/net/${file}`, 'latin1'); } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync(`${P}/${pid}`)) continue; // e.g. no IPv6
            ok = false;
            break;
          }
          mine.push(...parseProcNet(text, ns, family, proto));
        }
        if (ok) break;
        mine.length = 0;
      }
      found.set(ns, mine);
      this.lastScanOf.set(ns, t);
    }
    const all = [...found.values()].flat();
    // 3. owners
    const unknown = all.some((e) => {
      const pid = this.inodeOwner.get(e.inode);
      if (pid !== undefined) return !this.ownerAlive(pid);
      return !this.unresolved.has(e.inode);
    });
    if (unknown) {
      this.fdScans++;
      this.inodeOwner.clear();
      for (const pid of pids) {
        let fds: string[];
        try { fds = fs.readdirSync(`${P}/${pid}/fd`); } catch { continue; }
        for (const fd of fds) {
          let link: string;
          try { link = fs.readlinkSync(`${P}/${pid}/fd/${fd}`); } catch { continue; }
          if (!link.startsWith('socket:[')) continue;
          const ino = Number(link.slice(8, -1));
          if (!this.inodeOwner.has(ino)) this.inodeOwner.set(ino, pid); // pids ascend: the lowest wins
        }
      }
    }
    for (const e of all) if (!this.inodeOwner.has(e.inode)) this.unresolved.add(e.inode);
    // 4. new entries per namespace; what went away stays for a while
    const live: SocketEntry[] = [];
    for (const [ns, list] of found) {
      const fresh = new Map<string, SocketEntry>();
      for (const e of list) {
        const pid = this.inodeOwner.get(e.inode);
        if (pid !== undefined) e.owner = this.owner(pid);
        const k = socketKey(e.netns, e.family, e.proto, e.port);
        const cur = fresh.get(k);
        if (!cur || better(e, cur)) fresh.set(k, e);
      }
      live.push(...fresh.values());
      for (const [k, e] of this.byNetns.get(ns) ?? []) {
        if (fresh.has(k)) continue;
        const goneAt = e.goneAt ?? t;
        if (t - goneAt < this.graceMs) fresh.set(k, { ...e, goneAt });
      }
      if (fresh.size) this.byNetns.set(ns, fresh); else { this.byNetns.delete(ns); this.lastScanOf.delete(ns); }
    }
    // forget bookkeeping for sockets that no longer exist anywhere we look
    if (!want) {
      const inodes = new Set(all.map((e) => e.inode));
      for (const ino of this.inodeOwner.keys()) if (!inodes.has(ino)) this.inodeOwner.delete(ino);
      for (const ino of this.unresolved) if (!inodes.has(ino)) this.unresolved.delete(ino);
    }
    return live;
  }

  private ownerAlive(pid: number): boolean {
    const o = this.ownerCache.get(pid);
    if (!o) return startTime(this.procRoot, pid) !== undefined;
    if (startTime(this.procRoot, pid) === o.start) return true;
    this.ownerCache.delete(pid);
    return false;
  }

  /** When the namespace was last scanned (-Infinity: never). */
  lastScanned(netns: number): number {
    return this.lastScanOf.get(netns) ?? -Infinity;
  }

  /** Owner details of a pid, cached per (pid, start time). */
  private owner(pid: number): SocketOwner | undefined {
    const P = this.procRoot;
    const st = startTime(P, pid);
    if (st === undefined) return undefined;
    const c = this.ownerCache.get(pid);
    if (c && c.start === st) return c.owner;
    try {
      const status = fs.readFileSync(`${P}/${pid}/status`, 'latin1');
      const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      const ppid = num('PPid');
      let pcomm = '';
      try { pcomm = fs.readFileSync(`${P}/${ppid}/comm`, 'latin1').replace(/\n$/, ''); } catch { /* parent gone */ }
      let mntns = 0n;
      try { mntns = BigInt(nsInode(fs.readlinkSync(`${P}/${pid}/ns/mnt`))); } catch { /* gone */ }
      const link = (n: string) => {
        try { return fs.readlinkSync(`${P}/${pid}/${n}`); } catch { return ''; } // kernel thread, or gone
      };
      const owner: SocketOwner = {
        pid,
        comm: fs.readFileSync(`${P}/${pid}/comm`, 'latin1').replace(/\n$/, ''),
        uid: num('Uid'), gid: num('Gid'), ppid, pcomm, mntns, cwd: link('cwd'), exepath: link('exe'),
      };
      this.ownerCache.set(pid, { start: st, owner });
      return owner;
    } catch {
      return undefined;
    }
  }

  /** Every entry, including those kept after they went away. */
  all(): SocketEntry[] {
    return [...this.byNetns.values()].flatMap((m) => [...m.values()]);
  }

  /**
   * The socket on (netns, proto, local port). `version` 4 or 6 picks the family; an IPv4 lookup falls back
   * to an IPv6 socket on the port (dual-stack sockets take IPv4 traffic); 0 takes either.
   */
  lookup(netns: number, proto: number, port: number, version = 0): SocketEntry | undefined {
    const m = this.byNetns.get(netns);
    if (!m) return undefined;
    const v4 = m.get(socketKey(netns, AF_INET, proto, port));
    const v6 = m.get(socketKey(netns, AF_INET6, proto, port));
    if (version === 6) return v6;
    return v4 ?? v6;
  }
}

function better(a: SocketEntry, b: SocketEntry): boolean {
  const rank = (e: SocketEntry) => (e.proto === IPPROTO_TCP && e.state === TCP_LISTEN ? 2 : 0) + (e.owner ? 1 : 0);
  return rank(a) > rank(b);
}
