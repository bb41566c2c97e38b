/**
 * Linux facts about a container's init process, read from /proc and /sys/fs/cgroup.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Parse `mnt:[4026531832]` into its inode number. */
export function parseNsLink(link: string): bigint {
  const m = /\[(\d+)\]/.exec(link);
  if (!m) throw new Error(`unexpected namespace link ${JSON.stringify(link)}`);
  return BigInt(m[1]!);
}

/** Inode number of /proc/<pid>/ns/<kind> (throws if the process is gone). */
export function nsInode(pid: number | 'self', kind: 'mnt' | 'net' | 'pid' | 'uts' | 'ipc' | 'cgroup' | 'user'): bigint {
  return parseNsLink(fs.readlinkSync(`/proc/${pid}/ns/${kind}`));
}

/** Mount namespace inode of this process: the host reference (pid 1's ns files are not readable here). */
export function hostMntns(): bigint {
  return nsInode('self', 'mnt');
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); throws if the process is gone. */
export function pidStartTime(pid: number): bigint {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may hold spaces and parentheses: fields after it start past the last ')'
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state) → field 22 is rest[19]
  const v = rest[19];
  if (v === undefined) throw new Error(`short /proc/${pid}/stat`);
  return BigInt(v);
}

/** Is `pid` still the same process (same start time)? */
export function sameProcess(pid: number, startTime: bigint): boolean {
  try { return pidStartTime(pid) === startTime; } catch { return false; }
}

let bootTimeNsCache: bigint | undefined;
/** Boot time (unix ns) from /proc/stat `btime`. */
export function bootTimeNs(): bigint {
  if (bootTimeNsCache === undefined) {
    const m = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    bootTimeNsCache = m ? BigInt(m[1]!) * 1_000_000_000n : 0n;
  }
  return bootTimeNsCache;
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLK_TCK = 100n;

/** Unix time (ns) at which a process started, from its stat start time. */
export function processStartUnixNs(startTicks: bigint): number {
  return Number(bootTimeNs() + (startTicks * 1_000_000_000n) / CLK_TCK);
}

let unifiedRootCache: string | null | undefined;
/**
 * Where the cgroup v2 hierarchy is mounted: `/sys/fs/cgroup` on a pure v2 host, `/sys/fs/cgroup/unified` on a
 * hybrid host (like this one), or null when there is none.
 */
export function cgroup2Root(): string | null {
  if (unifiedRootCache !== undefined) return unifiedRootCache;
  unifiedRootCache = null;
  for (const p of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      if (Number(fs.statfsSync(p).type) === CGROUP2_SUPER_MAGIC) { unifiedRootCache = p; break; }
    } catch { /* not mounted */ }
  }
  return unifiedRootCache;
}

/** The cgroup v2 path (`0::` line of /proc/<pid>/cgroup), e.g. `/igtest/hn`; '' when absent. */
export function cgroupV2Path(pid: number): string {
  const text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  for (const line of text.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3);
  }
  return '';
}

/** cgroup v2 id (= inode of the cgroup directory, what bpf_get_current_cgroup_id returns); 0n if unknown. */
export function cgroupIdOf(v2Path: string): bigint {
  const root = cgroup2Root();
  if (!root || !v2Path) return 0n;
  try {
    return fs.statSync(path.join(root, v2Path), { bigint: true }).ino;
  } catch {
    return 0n;
  }
}

export interface ProcInfo {
  pid: number;
  pidStartTime: bigint;
  mntns: bigint;
  netns: number;
  cgroupPath: string;
  cgroupId: bigint;
}

/** Read everything the collection needs about `pid`; throws if the process is gone. */
export function procInfo(pid: number): ProcInfo {
  const start = pidStartTime(pid);
  const mntns = nsInode(pid, 'mnt');
  const netns = Number(nsInode(pid, 'net'));
  let cgroupPath = '';
  try { cgroupPath = cgroupV2Path(pid); } catch { /* raced with exit: checked below */ }
  // the process may have died and its pid been reused while we read: re-check the start time
  if (pidStartTime(pid) !== start) throw new Error(`process ${pid} changed while being inspected`);
  return { pid, pidStartTime: start, mntns, netns, cgroupPath, cgroupId: cgroupIdOf(cgroupPath) };
}
