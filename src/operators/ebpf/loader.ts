// The loader: open the gadget's ELF as one BpfObject, write the param values and offered variables into it,
// replace offered maps, give libbpf's unknown sections their program type, load it (a verifier rejection is one
// line, the log under --verbose) and attach every program that is not run on demand.
import { readFileSync } from 'node:fs';
import { Btf } from '../../bpf/btf/btf.js';
import { BtfKind } from '../../bpf/btf/types.js';
import { BpfObject } from '../../bpf/object.js';
import { ProgType } from '../../bpf/constants.js';
import { GadgetError, type GadgetContext } from '../../gadget/context.js';
import { attachProgram, type AttachEnv } from './attach.js';
import { encodeParam, EBPF_PREFIX, type EbpfParam } from './params.js';
import type { NetnsSocketFilter } from './socketfilter.js';
import type { UprobeProgram } from './uprobes.js';

/** Open the object (nothing is in the kernel yet). */
export function openObject(ctx: GadgetContext, elf: Buffer, opts: { vmlinuxBtf?: boolean } = {}): BpfObject {
  try {
    return BpfObject.open(elf, ctx.name, opts);
  } catch (e) {
    throw new GadgetError(`gadget ${ctx.name}: cannot open eBPF object: ${(e as Error).message}`);
  }
}

/** Everything that is decided before load: params, offered names, program types. */
export function configureObject(ctx: GadgetContext, obj: BpfObject, params: EbpfParam[], injectable: string[]): void {
  for (const p of params) {
    if (!ctx.params.isSet(EBPF_PREFIX + p.desc.key) && !p.desc.defaultValue) continue;
    obj.setVar(p.varName, encodeParam(p, ctx.params.get(EBPF_PREFIX + p.desc.key) ?? ''));
  }
  // Upstream's section spellings libbpf does not know get their program type here.
  for (const p of obj.programs()) {
    if (/^socket\d*$/.test(p.section) && p.type !== ProgType.SocketFilter) obj.setProgramType(p.name, ProgType.SocketFilter);
    else if (p.section.startsWith('perf_event/') && p.type !== ProgType.PerfEvent) obj.setProgramType(p.name, ProgType.PerfEvent);
    // classifier/<dir>/<name> and tc/<anything>: TC programs (libbpf knows only the bare names)
    else if (/^(classifier|tc)\//.test(p.section) && p.type !== ProgType.SchedCls) obj.setProgramType(p.name, ProgType.SchedCls);
  }
  // Offered names: every declared map / variable that another operator offered is replaced / set.
  for (const m of obj.maps()) {
    const offered = ctx.offers.offeredMap(m.name);
    if (offered) obj.reuseMap(m.name, offered);
  }
  for (const name of injectable) {
    const value = ctx.offers.offeredVariable(name);
    if (value) obj.setVar(name, value);
  }
  shrinkIdleUstackMap(ctx, obj, params);
}

/** include/gadget/user_stack_map.h's stack map and the param that turns collecting into it on. */
const USTACK_MAP = 'ig_ustack';
const USTACK_PARAM_VAR = 'collect_ustack';

/**
 * Without --collect-ustack the programs never write the user stack map (user_stack_map.h checks the param first),
 * yet its 10,000 preallocated entries of 1 KiB cost ≈10 MiB of kernel memory and 1-2 ms of CPU at every load,
 * before the first event: one entry then (a map that another operator offered is left as it is).
 */
function shrinkIdleUstackMap(ctx: GadgetContext, obj: BpfObject, params: EbpfParam[]): void {
  const map = obj.maps().find((m) => m.name === USTACK_MAP);
  if (!map || map.maxEntries <= 1 || ctx.offers.offeredMap(USTACK_MAP)) return;
  const p = params.find((x) => x.varName === USTACK_PARAM_VAR);
  if (!p) return; // the header declares both: a map of that name without the param is some other map
  if (ctx.params.isSet(EBPF_PREFIX + p.desc.key) || p.desc.defaultValue) {
    if (encodeParam(p, ctx.params.get(EBPF_PREFIX + p.desc.key) ?? '').some((b) => b !== 0)) return;
  }
  obj.setMapMaxEntries(USTACK_MAP, 1);
}

export function loadObject(ctx: GadgetContext, obj: BpfObject): void {
  try {
    obj.load();
  } catch (e) {
    const err = e as Error & { log?: string; errno?: number };
    const prog = /prog '([^']+)'/.exec(err.message)?.[1] ?? /prog '([^']+)'/.exec(err.log ?? '')?.[1];
    const missing = prog ? missingHook(obj.programs().find((p) => p.name === prog)?.section ?? '') : undefined;
    if (missing) throw new GadgetError(`gadget ${ctx.name}: program ${prog}: ${missing}`, err.log || err.message);
    throw new GadgetError(`gadget ${ctx.name}: the kernel rejected ${prog ? `program ${prog}` : 'the eBPF object'}: ${firstLine(err.message)} (run with --verbose for the verifier log)`, err.log || err.message);
  }
}

/**
 * Attach every program but those run on demand; socket filters land in `socketFilters` (the caller closes them),
 * TC programs in `tcPrograms` when given (the caller attaches them behind dispatchers), uprobes in `uprobePrograms`
 * when given (the caller attaches them per host/container file).
 */
export function attachAll(ctx: GadgetContext, obj: BpfObject, onDemand: Set<string>, socketFilters: NetnsSocketFilter[], tcPrograms?: { name: string; egress: boolean; dispatch: boolean }[], uprobePrograms?: UprobeProgram[]): void {
  const env: AttachEnv = {
    obj, gadget: ctx.name, metadata: ctx.metadata, socketFilters, tcPrograms, uprobePrograms,
    iface: ctx.params.get(EBPF_PREFIX + 'iface') || undefined,
    netnsPaths: ctx.netns.paths,
    warn: (msg) => ctx.log.warn(msg),
  };
  for (const p of obj.programs()) if (!onDemand.has(p.name)) attachProgram(env, p);
}

/**
 * A program the kernel refused because its kind of hook is not built in, said in words (the errno alone, EPERM or
 * EINVAL, does not tell): BPF LSM programs need CONFIG_BPF_LSM with `bpf` in the active LSMs, fentry/fexit/fmod_ret
 * need BPF trampolines.
 */
function missingHook(section: string): string | undefined {
  const [kind, ...rest] = section.split('/');
  const target = rest.join('/');
  if (kind === 'lsm' || kind === 'lsm.s' || kind === 'lsm_cgroup') {
    let lsms = '';
    try { lsms = readFileSync('/sys/kernel/security/lsm', 'utf8'); } catch { /* no securityfs: the LSM list is unknown */ }
    if (!lsms.split(',').includes('bpf')) return `LSM hook ${target} (BPF LSM) is not supported: this kernel has no BPF LSM (CONFIG_BPF_LSM with "bpf" in lsm=)`;
  }
  if (['fentry', 'fexit', 'fmod_ret', 'fentry.s', 'fexit.s'].includes(kind!)) return `${kind} ${target} (BPF trampolines) is not supported by this kernel`;
  if (kind === 'iter' || kind === 'iter.s') return missingIterTarget(target);
  return undefined;
}

/** An iterator target the kernel does not register (no bpf_iter_<target> function in its BTF), with the ones it has. */
function missingIterTarget(target: string): string | undefined {
  let k: Btf;
  try { k = Btf.kernel(); } catch { return undefined; } // no kernel BTF: the kernel's own message says more
  if (k.typesByName(`bpf_iter_${target}`, BtfKind.Func).length > 0) return undefined;
  const have = k.funcNamesWithPrefix('bpf_iter_').map((f) => f.slice('bpf_iter_'.length))
    .filter((t) => k.typesByName(`bpf_iter__${t}`, BtfKind.Struct).length > 0).sort();
  return `iterator target "${target}" does not exist in this kernel (no bpf_iter_${target} in its BTF; it has ${have.join(', ') || 'none'})`;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
