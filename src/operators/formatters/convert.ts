import { u64Mod1e9 } from '../../datasource/field.js';
// Pure value converters used by the formatters operator: errno, signal, syscall, bytes, duration, file mode/flags, IPs.
import { ERRNO_NAMES, SYSCALLS_X86_64 } from './tables.js';

export function errnoName(v: number): string {
  if (v === 0) return '';
  const n = Math.abs(v);
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

const SIGNALS = ['', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN',
  'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS'];

export function signalName(v: number): string {
  if (v > 0 && v < SIGNALS.length) return SIGNALS[v]!;
  if (v >= 34 && v <= 64) return v === 34 ? 'SIGRTMIN' : v === 64 ? 'SIGRTMAX' : `SIGRTMIN+${v - 34}`;
  return v === 0 ? '' : `SIG${v}`;
}

export function syscallName(v: number): string {
  return SYSCALLS_X86_64[v] ?? 'unknown';
}

export function humanBytes(v: number): string {
  if (v < 1000) return `${v} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let x = v;
  let u = -1;
  while (x >= 1000 && u < units.length - 1) { x /= 1000; u++; }
  return `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[u]}`;
}

/** Nanoseconds as a Go-style duration string: 850ns, 12.34µs, 1.2ms, 1.5s, 2m3s. */
export function humanDuration(ns: number): string {
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  const s = ns / 1e9;
  if (s < 60) return `${trim(s)}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s - h * 3600 - m * 60;
  return `${h ? `${h}h` : ''}${m}m${trim(rest)}s`;
}

function trim(x: number): string {
  return String(Number(x.toFixed(x < 10 ? 3 : x < 100 ? 2 : 1)));
}

export function fileMode(mode: number): string {
  const types: [number, string][] = [[0o140000, 's'], [0o120000, 'l'], [0o100000, '-'], [0o060000, 'b'], [0o040000, 'd'], [0o020000, 'c'], [0o010000, 'p']];
  const fmt = mode & 0o170000;
  const t = types.find(([m]) => m === fmt)?.[1] ?? '-';
  const rwx = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? rwx[i] : '-';
  const chars = s.split('');
  if (mode & 0o4000) chars[2] = chars[2] === 'x' ? 's' : 'S';
  if (mode & 0o2000) chars[5] = chars[5] === 'x' ? 's' : 'S';
  if (mode & 0o1000) chars[8] = chars[8] === 'x' ? 't' : 'T';
  return t + chars.join('');
}

const OPEN_FLAGS: [number, string][] = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'], [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'], [0o100000, 'O_LARGEFILE'], [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'], [0o4010000, 'O_SYNC'], [0o10000000, 'O_PATH'],
  [0o20200000, 'O_TMPFILE'],
];

export function fileFlags(flags: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & 3]!;
  const out = [acc];
  let rest = flags & ~3;
  for (const [bit, name] of [...OPEN_FLAGS].reverse()) {
    if ((rest & bit) === bit && bit !== 0) {
      out.push(name);
      rest &= ~bit;
    }
  }
  return out.join('|');
}

/** Format an IP stored as 16 raw bytes (v4 in the first 4) according to its version. */
export function ipString(buf: Buffer, offs: number, version: number): string {
  if (version === 4) return `${buf[offs]}.${buf[offs + 1]}.${buf[offs + 2]}.${buf[offs + 3]}`;
  if (version !== 6) return '';
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(offs + i).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return parts.join(':');
  // IPv4-mapped addresses read better in dotted form.
  if (best === 0 && bestLen === 5 && parts[5] === 'ffff') return `::ffff:${buf[offs + 12]}.${buf[offs + 13]}.${buf[offs + 14]}.${buf[offs + 15]}`;
  return `${parts.slice(0, best).join(':')}::${parts.slice(best + bestLen).join(':')}`;
}

export const PROTOCOLS: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

/**
 * The same format from the raw u64 halves, without BigInt or a Date per event: the text up to the seconds is
 * cached per second, only the nanoseconds change between events of a burst.
 */
export class TimestampFormatter {
  private lastSec = -1;
  private prefix = '';
  private tz = '';

  format(hi: number, lo: number): string {
    const frac = u64Mod1e9(hi, lo);
    const sec = Math.round((hi * 4294967296 + lo - frac) / 1e9);
    if (sec !== this.lastSec) {
      const s = formatTimestampNs(BigInt(sec) * 1000000000n);
      this.prefix = s.slice(0, 20);        // 2006-01-02T15:04:05.
      this.tz = s.slice(29);               // Z or +hh:mm
      this.lastSec = sec;
    }
    return this.prefix + String(frac).padStart(9, '0') + this.tz;
  }
}

/** Go's RFC 3339 with nanoseconds: 2006-01-02T15:04:05.000000000Z07:00, in local time. */
export function formatTimestampNs(ns: bigint): string {
  const ms = Number(ns / 1000000n);
  const frac = (ns % 1000000000n).toString().padStart(9, '0');
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const tz = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${frac}${tz}`;
}
