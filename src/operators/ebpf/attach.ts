// Attach each program by its section name, upstream's conventions (ig-spec §3.2). Anything the kernel lacks
// ends in one line naming the program and the hook.
import { existsSync, readFileSync } from 'node:fs';
import type { BpfObject, ProgramInfo } from '../../bpf/object.js';
import { Errno, PerfSwConfig, PerfType } from '../../bpf/constants.js';
import { GadgetError } from '../../gadget/context.js';
import type { GadgetMetadata } from '../../gadget/metadata.js';
import { getConfig } from '../../gadget/metadata.js';
import { resolveLibrary } from './libs.js';
import type { UprobeProgram } from './uprobes.js';
import { attachSocketFilterPerNetns, type NetnsSocketFilter } from './socketfilter.js';

export interface AttachEnv {
  /** The loaded object; it owns every link made here. */
  obj: BpfObject;
  gadget: string;
  metadata: GadgetMetadata;
  iface?: string;
  /** Socket-filter programs attached per network namespace; closed by the operator at stop. */
  socketFilters: NetnsSocketFilter[];
  /** Network namespaces whose sockets get the socket-filter programs (null = ig's own). */
  netnsPaths: (string | null)[];
  /** TC programs: collected here when given, attached by the operator behind dispatchers (tcattach.ts) */
  tcPrograms?: { name: string; egress: boolean; dispatch: boolean }[];
  /** uprobes: collected here when given, attached by the operator per host/container file (uprobes.ts) */
  uprobePrograms?: UprobeProgram[];
  /** a probe that is skipped rather than fatal (uprobe library or symbol missing) */
  warn: (msg: string) => void;
}

function onlineCpus(): number[] {
  try {
    const txt = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
    const out: number[] = [];
    for (const part of txt.split(',')) {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined];
      for (let c = a; c <= (b ?? a); c++) out.push(c);
    }
    return out;
  } catch {
    return [0];
  }
}

/** The kprobe PMU (or the legacy kprobe_events file) exists only on kernels built with CONFIG_KPROBES. */
function kernelHasKprobes(): boolean {
  return existsSync('/sys/bus/event_source/devices/kprobe') || existsSync('/sys/kernel/tracing/kprobe_events') || existsSync('/sys/kernel/debug/tracing/kprobe_events');
}

function hookError(env: AttachEnv, prog: string, what: string, e: unknown): GadgetError {
  const err = e as Error & { errno?: number };
  const errno = err.errno ?? 0;
  let why: string;
  if (errno === Errno.ENOENT) why = `${what} does not exist on this kernel`;
  else if (errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP) why = `${what} is not supported by this kernel`;
  else why = `attaching to ${what} failed: ${err.message}`;
  return new GadgetError(`gadget ${env.gadget}: program ${prog}: ${why}`, err.message);
}

/** Attach one program. Returns false when it is disabled by config. */
export function attachProgram(env: AttachEnv, p: ProgramInfo): boolean {
  const { obj } = env;
  const sec = p.section;
  const attachTo = getConfig(env.metadata, `programs.${p.name}.attach_to`) as string | undefined;
  if (attachTo === 'gadget_program_disabled') return false;
  const slash = sec.indexOf('/');
  const kind = slash < 0 ? sec : sec.slice(0, slash);
  const target = attachTo ?? (slash < 0 ? '' : sec.slice(slash + 1));
  try {
    switch (kind) {
      case 'tracepoint': case 'tp': {
        const [cat, name] = target.split('/') as [string, string];
        try { obj.attachTracepoint(p.name, cat, name); } catch (e) { throw hookError(env, p.name, `tracepoint ${target}`, e); }
        return true;
      }
      case 'raw_tracepoint': case 'raw_tp':
        try { obj.attachRawTracepoint(p.name, target); } catch (e) { throw hookError(env, p.name, `raw tracepoint ${target}`, e); }
        return true;
      case 'kprobe': case 'kretprobe':
        if (!kernelHasKprobes()) throw new GadgetError(`gadget ${env.gadget}: program ${p.name}: ${kind} ${target} (kprobes) is not supported: this kernel has no kprobes (CONFIG_KPROBES)`);
        try { obj.attachKprobe(p.name, target, kind === 'kretprobe'); } catch (e) { throw hookError(env, p.name, `${kind} ${target} (kprobes)`, e); }
        return true;
      case 'uprobe': case 'uretprobe': {
        const colon = target.lastIndexOf(':');
        if (colon < 0) throw new GadgetError(`gadget ${env.gadget}: program ${p.name}: section ${sec} must be ${kind}/<library-or-path>:<symbol>`);
        const lib = target.slice(0, colon);
        const sym = target.slice(colon + 1);
        if (env.uprobePrograms) {
          env.uprobePrograms.push({ name: p.name, retprobe: kind === 'uretprobe', lib, sym, target });
          return true;
        }
        // As upstream: a library or symbol this host lacks skips the probe (gadgets probe several TLS
        // libraries, a host has some of them), with a warning; other failures end the run.
        const path = resolveLibrary(lib);
        if (!path) {
          env.warn(`gadget ${env.gadget}: program ${p.name}: library ${lib} not found on this host; ${kind} ${target} skipped`);
          return false;
        }
        try {
          obj.attachUprobe(p.name, { binaryPath: path, func: sym, retprobe: kind === 'uretprobe' });
        } catch (e) {
          if ((e as { errno?: number }).errno === Errno.ENOENT) {
            env.warn(`gadget ${env.gadget}: program ${p.name}: symbol ${sym} not found in ${path}; ${kind} skipped`);
            return false;
          }
          throw hookError(env, p.name, `${kind} ${path}:${sym}`, e);
        }
        return true;
      }
      case 'perf_event': {
        const freq = Number(getConfig(env.metadata, `programs.${p.name}.sampler.frequency`) ?? 49);
        const cfgName = String(getConfig(env.metadata, `programs.${p.name}.perf.config`) ?? 'count_sw_cpu_clock');
        if (cfgName !== 'count_sw_cpu_clock') throw new GadgetError(`gadget ${env.gadget}: program ${p.name}: perf config ${cfgName} is not supported (only count_sw_cpu_clock)`);
        for (const cpu of onlineCpus()) {
          try { obj.attachPerfEvent(p.name, { type: PerfType.Software, config: PerfSwConfig.CpuClock, freq, cpu }); } catch (e) { throw hookError(env, p.name, `perf event cpu-clock on cpu ${cpu}`, e); }
        }
        return true;
      }
      case 'iter':
        // An iterator is read by the snapshotter that names it (snapshots.ts); alone, its link would never be read.
        throw new GadgetError(`gadget ${env.gadget}: program ${p.name}: a BPF iterator (${sec}) must be named by GADGET_ITER / GADGET_SNAPSHOTTER, which reads it at each fetch`);
      case 'classifier': case 'tc': case 'tcx': {
        if (env.tcPrograms) {
          env.tcPrograms.push({ name: p.name, egress: target.startsWith('egress'), dispatch: kind === 'classifier' });
          return true;
        }
        if (!env.iface) throw new GadgetError(`gadget ${env.gadget}: program ${p.name}: TC programs need --iface`);
        let ifindex: number;
        try { ifindex = Number(readFileSync(`/sys/class/net/${env.iface}/ifindex`, 'utf8')); } catch { throw new GadgetError(`gadget ${env.gadget}: --iface ${env.iface}: no such network interface`); }
        const egress = target.startsWith('egress');
        try { obj.attachTc(p.name, ifindex, egress); } catch (e) { throw hookError(env, p.name, `TC ${egress ? 'egress' : 'ingress'} on ${env.iface}`, e); }
        return true;
      }
      default:
        if (kind.startsWith('socket')) {
          try { env.socketFilters.push(attachSocketFilterPerNetns(env.netnsPaths, obj.progFd(p.name))); } catch (e) { throw hookError(env, p.name, 'socket filter', e); }
          return true;
        }
        try { obj.attachAuto(p.name); } catch (e) { throw hookError(env, p.name, `${sec}`, e); }
        return true;
    }
  } catch (e) {
    if (e instanceof GadgetError) throw e;
    throw hookError(env, p.name, sec, e);
  }
}
