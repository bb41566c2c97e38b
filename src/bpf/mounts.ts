// Mount the pseudo filesystems eBPF tooling expects, when they are missing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

export interface MountPoint {
  fstype: string;
  path: string;
}

export const BPF_FILESYSTEMS: readonly MountPoint[] = [
  { fstype: 'bpf', path: '/sys/fs/bpf' },
  { fstype: 'tracefs', path: '/sys/kernel/tracing' },
  { fstype: 'debugfs', path: '/sys/kernel/debug' },
];

export interface MountResult extends MountPoint {
  /** True when this call mounted it; false when it was already there. */
  mounted: boolean;
}

/** Decode the octal escapes (\040 etc.) /proc/mounts uses in paths. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parsed /proc/mounts (or the given text). */
export function readMounts(text: string = readFileSync('/proc/mounts', 'utf8')): Array<{ source: string; path: string; fstype: string }> {
  const out: Array<{ source: string; path: string; fstype: string }> = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 3) continue;
    out.push({ source: unescapeMountField(f[0]!), path: unescapeMountField(f[1]!), fstype: f[2]! });
  }
  return out;
}

export function isMounted(fstype: string, path: string, mounts = readMounts()): boolean {
  return mounts.some((m) => m.path === path && m.fstype === fstype);
}

/**
 * Mount bpffs at /sys/fs/bpf, tracefs at /sys/kernel/tracing and debugfs at /sys/kernel/debug when
 * /proc/mounts does not list them. Needs root. Throws with the mount(8) message on failure.
 */
export function mountBpfFilesystems(points: readonly MountPoint[] = BPF_FILESYSTEMS): MountResult[] {
  const mounts = readMounts();
  const results: MountResult[] = [];
  for (const p of points) {
    if (isMounted(p.fstype, p.path, mounts)) {
      results.push({ ...p, mounted: false });
      continue;
    }
    if (!existsSync(p.path)) mkdirSync(p.path, { recursive: true });
    try {
      execFileSync('mount', ['-t', p.fstype, p.fstype, p.path], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`cannot mount ${p.fstype} at ${p.path}: ${stderr || (err as Error).message}`);
    }
    results.push({ ...p, mounted: true });
  }
  return results;
}
