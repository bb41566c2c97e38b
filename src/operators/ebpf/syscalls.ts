// Decoded syscall arguments and return values (traceloop), driven by field annotations:
//
//   args:     ebpf.formatter.syscall-params: parameters      # target field: "fd=3, buf=0x7ffc…, count=832"
//             ebpf.formatter.syscall-params.syscall: syscall_raw  # field holding the syscall number
//             ebpf.formatter.syscall-params.string: param    # optional: string copied for the first char* argument
//   ret_raw:  ebpf.formatter.syscall-ret: ret                # target field: "3", "-1 (ENOENT)", "X" if it never returned
//             ebpf.formatter.syscall-ret.completed: completed     # optional bool field: false = did not return
//
// Parameter names and types come from the kernel's syscall tracepoint formats
// (tracefs events/syscalls/sys_enter_<name>/format), read once per syscall; pointers print in hex, signed C
// types as signed numbers of their width, the rest unsigned.
import { readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { Kind, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import { syscallName } from '../formatters/convert.js';

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

function addSibling(ds: DataSource, raw: Field, name: string, description: string, compute: (b: Batch, i: number) => string, nativeKey?: Field[]): void {
  const f = ds.addField({
    name, parent: raw.parent, kind: Kind.String, order: raw.order, tags: ['src:ebpf'],
    annotations: { description }, storage: { type: 'derived', compute },
  });
  // The text follows from these fields' bytes alone: a render plan can memoise it.
  if (nativeKey) f.native = { kind: 'memo', key: nativeKey };
  raw.setHidden(true);
}

/** Wire the annotated syscall fields of `ds`. */
export function addSyscallFields(ds: DataSource): void {
  for (const raw of [...ds.fields]) {
    const paramsTarget = raw.annotation('ebpf.formatter.syscall-params');
    if (paramsTarget) {
      const nrField = ds.getField(raw.annotation('ebpf.formatter.syscall-params.syscall') ?? '');
      if (!nrField) throw new Error(`data source ${ds.name}: field ${raw.fullName}: ebpf.formatter.syscall-params.syscall must name the syscall number field`);
      const strName = raw.annotation('ebpf.formatter.syscall-params.string');
      const strField = strName ? ds.getField(strName) : undefined;
      if (strName && !strField) throw new Error(`data source ${ds.name}: field ${raw.fullName}: no field "${strName}" for ebpf.formatter.syscall-params.string`);
      const getArgs = raw.get;
      const getNr = nrField.get;
      const getStr = strField?.get;
      addSibling(ds, raw, paramsTarget, raw.annotation('description') ?? 'Syscall parameters', (b, i) => {
        const args = getArgs(b, i);
        if (!Array.isArray(args)) return '';
        const s = getStr ? String(getStr(b, i) ?? '') : undefined;
        return formatParams(Number(getNr(b, i)), args, s === '' ? undefined : s);
      });
    }
    const retTarget = raw.annotation('ebpf.formatter.syscall-ret');
    if (retTarget) {
      const complName = raw.annotation('ebpf.formatter.syscall-ret.completed');
      const completed = complName ? ds.getField(complName) : undefined;
      const getCompleted = completed?.get;
      const get = raw.get;
      addSibling(ds, raw, retTarget, raw.annotation('description') ?? 'Return value', (b, i) =>
        formatRet(get(b, i) as number | bigint, getCompleted ? Boolean(getCompleted(b, i)) : true), completed ? [raw, completed] : [raw]);
    }
  }
}
