// Syscalls: names by number (x86_64, gadget_syscall), decoded arguments and return values (traceloop).
//
// Parameter names and types come from the kernel's syscall tracepoint formats
// (tracefs events/syscalls/sys_enter_<name>/format), read once per syscall; pointers print in hex, signed C
// types as signed numbers of their width, the rest unsigned.
import { readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { SYSCALLS_X86_64 } from './syscall-table.js';

export function syscallName(v: number): string {
  return SYSCALLS_X86_64[v] ?? 'unknown';
}

export interface SyscallParam { name: string; type: string; pointer: boolean; signed: boolean; size: number }

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const SIGNED_TYPES = /^(const )?(int|long|short|signed char|pid_t|off_t|loff_t|ssize_t|clockid_t|timer_t|key_serial_t|mqd_t|s8|s16|s32|s64|__s32|__s64|time_t)$/;
const TYPE_SIZES: Record<string, number> = { int: 4, 'unsigned int': 4, pid_t: 4, uid_t: 4, gid_t: 4, umode_t: 2, 'unsigned short': 2, short: 2, u32: 4, __u32: 4, s32: 4, __s32: 4, qid_t: 4, clockid_t: 4, key_serial_t: 4, mqd_t: 4, timer_t: 4, 'rwf_t': 4, 'aio_context_t': 8 };

/** Parse the "field:<type> <name>;" lines of a sys_enter_* tracepoint format (after __syscall_nr). */
export function parseSyscallFormat(text: string): SyscallParam[] {
  const out: SyscallParam[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*field:(.+?)\s*;\s*offset:\d+;\s*size:(\d+);/.exec(line);
    if (!m) continue;
    const decl = m[1]!;
    const nm = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(decl);
    if (!nm) continue;
    const type = nm[1]!.trim();
    const name = nm[2]!;
    if (name.startsWith('common_') || name === '__syscall_nr') continue;
    const pointer = type.includes('*') || type.includes('[');
    out.push({ name, type, pointer, signed: !pointer && SIGNED_TYPES.test(type), size: pointer ? 8 : TYPE_SIZES[type.replace(/^const /, '')] ?? 8 });
  }
  return out;
}

const declCache = new Map<string, SyscallParam[] | null>();

/** Parameters of a syscall by name, or null when the kernel has no tracepoint for it. */
export function syscallParams(name: string, roots = TRACEFS): SyscallParam[] | null {
  const hit = declCache.get(name);
  if (hit !== undefined) return hit;
  let res: SyscallParam[] | null = null;
  outer: for (const root of roots) {
    for (const n of [name, `new${name}`]) {
      try {
        res = parseSyscallFormat(readFileSync(`${root}/events/syscalls/sys_enter_${n}/format`, 'utf8'));
        break outer;
      } catch { /* not there */ }
    }
  }
  declCache.set(name, res);
  return res;
}

function argText(p: SyscallParam | undefined, v: bigint): string {
  if (!p || p.pointer) return '0x' + v.toString(16);
  if (p.signed) return (p.size === 4 ? BigInt.asIntN(32, v) : p.size === 2 ? BigInt.asIntN(16, v) : BigInt.asIntN(64, v)).toString();
  return (p.size < 8 ? BigInt.asUintN(p.size * 8, v) : v).toString();
}

/** "name=value, ..." for one call. `str` (if any) replaces the first char* argument's pointer. */
export function formatParams(nr: number, args: (number | bigint)[], str: string | undefined): string {
  const params = syscallParams(syscallName(nr));
  const n = params ? params.length : args.length;
  let strUsed = str === undefined;
  const parts: string[] = [];
  for (let k = 0; k < n && k < args.length; k++) {
    const p = params?.[k];
    const v = BigInt(args[k]!);
    let text: string;
    if (!strUsed && p && p.pointer && /\bchar \*/.test(p.type)) {
      text = JSON.stringify(str);
      strUsed = true;
    } else {
      text = argText(p, v);
    }
    parts.push(p ? `${p.name}=${text}` : text);
  }
  return parts.join(', ');
}

/** Upstream's return value text: errors as "-1 (ENAME)", other values as numbers. */
export function formatRet(ret: number | bigint, completed: boolean): string {
  if (!completed) return 'X';
  const r = BigInt(ret);
  if (r >= -4095n && r <= -1n) {
    let name: string;
    try { name = getSystemErrorName(Number(r)); } catch { name = `errno ${-r}`; }
    return `-1 (${name})`;
  }
  return r.toString();
}
