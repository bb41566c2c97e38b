// Stack fields (ig-spec §3.3):
// - a `gadget_kernel_stack` member holds a stack id in the `ig_kstack` STACK_TRACE map: add a string field
//   (`ebpf.formatter.kstack`, else the member name minus `_raw`) with "[0]sym; [1]sym; " from /proc/kallsyms;
// - a `struct gadget_user_stack` member holds a stack id in `ig_ustack` and the process (tgid_level0): add a
//   string field (`ebpf.formatter.ustack`, else the member name minus `_raw`) with the user stack symbolised
//   through the process' mappings and the ELF symbols of the mapped files.
// The stack maps are read when an output asks for the value (derived fields), while the object is loaded.
// Recorded and replayed runs: a stack's text is a host fact (`kstack` by stack id, `ustack` by pid and stack id),
// so a replay, which has no stack maps and may run on another machine, prints the recorded machine's symbols.
import type { BpfMap } from '../../bpf/map.js';
import type { HostFacts } from '../../gadget/host-facts.js';
import { Kind, type Batch, type DataSource, type Derivation, type Field } from '../../datasource/index.js';
import { KernelSymbols } from '../../symbols/kallsyms.js';
import { UserSymbolizer } from '../../symbols/user.js';
import { targetName } from '../../format/index.js';

export const KSTACK_MAP = 'ig_kstack';
export const USTACK_MAP = 'ig_ustack';
const NO_STACK = 0xffffffff;

export interface StackEnv {
  /** A map of the loaded object, or undefined when it is not loaded (any more). */
  map(name: string): BpfMap | undefined;
  warn(msg: string): void;
  /** Record: texts are logged as they are resolved; replay: they come from the recording. */
  facts?: HostFacts;
}

/** `resolve()` live, or through the run's host facts when it records or replays. */
function asked<T>(env: StackEnv, kind: string, key: string, resolve: () => T, missing: T, field: string): T {
  const f = env.facts;
  // A replay that needs a stack the recording lacks fails naming `field` (MissingFactError): empty would be wrong.
  return f && f.mode !== 'live' ? f.ask(kind, key, resolve, missing, field) : resolve();
}

type WithStruct = Field & { structName?: string };

/** Read one stack (u64 addresses, zero-terminated) from a STACK_TRACE map. */
function readStack(env: StackEnv, map: string, id: number): Float64Array | BigUint64Array | undefined {
  const m = env.map(map);
  if (!m) return undefined;
  const key = Buffer.alloc(4);
  key.writeUInt32LE(id >>> 0);
  let v: Buffer | null;
  // The object closed between the check and the lookup (a late output at stop): no stack to show.
  try { v = m.lookup(key); } catch { return undefined; }
  if (!v) return undefined;
  const n = Math.floor(v.length / 8);
  const out = new BigUint64Array(n);
  let k = 0;
  for (; k < n; k++) {
    const a = v.readBigUInt64LE(k * 8);
    if (a === 0n) break;
    out[k] = a;
  }
  return out.subarray(0, k);
}

/**
 * What a user stack's text follows from, for consumers that memoise it (the native render plan): the stack id
 * within one process image (tgid + the executable's inode + the hash of where the image sits, which changes at
 * every exec). The addresses of an id never change while the map lives; symbols are resolved once per key, as
 * the JS caches below do. Zero bytes (no --collect-ustack) are one key whose text is ''.
 */
function userStackDerivation(ds: DataSource, raw: Field): Derivation | undefined {
  const inputs = ['stack_id', 'tgid_level0', 'inode', 'base_addr_hash'].map((n) => ds.getField(`${raw.fullName}.${n}`));
  if (inputs.some((f) => !f)) return undefined;
  return { kind: 'computed', inputs: inputs as Field[] };
}

/** Add the symbolised stack fields of `ds` (read from the stack maps while the object is loaded). */
export function addStackFields(ds: DataSource, env: StackEnv): void {
  for (const raw of [...ds.fields]) {
    if (raw.typeNames().includes('gadget_kernel_stack')) addKernelStack(ds, raw, env);
    else if ((raw as WithStruct).structName === 'gadget_user_stack') addUserStack(ds, raw, env);
  }
}

function addKernelStack(ds: DataSource, raw: Field, env: StackEnv): void {
  const name = raw.annotation('ebpf.formatter.kstack') ?? targetName(raw, 'kstack');
  if (!name) return;
  const get = raw.get;
  const cache = new Map<number, string>();
  let syms: KernelSymbols | null | undefined;
  const compute = (b: Batch, i: number): string => {
    const id = Number(get(b, i));
    if (id === NO_STACK) return '';
    const hit = cache.get(id);
    if (hit !== undefined) return hit;
    const s = asked(env, 'kstack', String(id), () => {
      if (syms === undefined) {
        try { syms = KernelSymbols.host(); } catch (e) { syms = null; env.warn(`cannot read /proc/kallsyms: ${(e as Error).message}`); }
      }
      const addrs = readStack(env, KSTACK_MAP, id);
      if (!addrs) return undefined;
      let t = '';
      for (let k = 0; k < addrs.length; k++) {
        const a = addrs[k] as bigint;
        t += `[${k}]${syms?.lookup(a) ?? '0x' + a.toString(16)}; `;
      }
      return t;
    }, undefined, name);
    if (s == null) return ''; // no stack (null: a recorded miss)
    cache.set(id, s); // stack ids are stable: entries are never deleted while the gadget runs
    return s;
  };
  ds.addField({
    name, parent: raw.parent, kind: Kind.String, order: raw.order, tags: ['src:ebpf', 'type:kstack'],
    annotations: { description: raw.annotation('description') ?? 'Kernel stack' },
    storage: { type: 'derived', compute },
  });
  raw.setHidden(true);
}

function addUserStack(ds: DataSource, raw: Field, env: StackEnv): void {
  const name = raw.annotation('ebpf.formatter.ustack') ?? targetName(raw, 'ustack');
  if (!name) {
    addUpstreamUserStack(ds, raw, env);
    return;
  }
  const child = (n: string) => ds.getField(`${raw.fullName}.${n}`);
  const stackId = child('stack_id')?.get;
  const tgid = child('tgid_level0')?.get;
  const inode = child('inode')?.get;
  if (!stackId || !tgid) return;
  const symbolizer = new UserSymbolizer();
  const cache = new Map<string, string>();
  let lastBatch: Batch | undefined;
  const compute = (b: Batch, i: number): string => {
    if (b !== lastBatch) {
      // Mappings change while processes run: re-read them once per batch.
      symbolizer.invalidate();
      lastBatch = b;
    }
    const id = Number(stackId(b, i));
    if (id === NO_STACK || (inode && Number(inode(b, i)) === 0)) return '';
    const pid = Number(tgid(b, i));
    const key = `${pid}:${id}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const s = asked(env, 'ustack', key, () => {
      const addrs = readStack(env, USTACK_MAP, id);
      return addrs ? symbolizer.format(pid, Array.from(addrs as BigUint64Array, (a) => Number(a))) : undefined;
    }, undefined, name);
    if (s == null) return ''; // no stack (null: a recorded miss)
    cache.set(key, s);
    return s;
  };
  const text = ds.addField({
    name, parent: raw.parent, kind: Kind.String, order: raw.order, tags: ['src:ebpf', 'type:ustack'],
    annotations: { description: raw.annotation('description') ?? 'User stack' },
    storage: { type: 'derived', compute },
  });
  text.derivation = userStackDerivation(ds, raw);
  raw.setHidden(true);
  for (const f of ds.fields) if (f.parent === raw) f.setHidden(true);
}

/**
 * A `struct gadget_user_stack` member not named `*_raw` (upstream's convention, e.g. `ustack`): as upstream's
 * ustack operator, two string sub-fields, `<member>.addresses` ("0x55d0c1a2b3c4; 0x...; ") and
 * `<member>.symbols` ("inner; caller; ...; ", the address where no symbol is known), hidden in columns like
 * the struct's own members; empty when no stack was collected (inode 0: --collect-ustack not given).
 */
function addUpstreamUserStack(ds: DataSource, raw: Field, env: StackEnv): void {
  const child = (n: string) => ds.getField(`${raw.fullName}.${n}`);
  const stackId = child('stack_id')?.get;
  const tgid = child('tgid_level0')?.get;
  const inode = child('inode')?.get;
  if (!stackId || !tgid || child('symbols') || child('addresses')) return;
  const symbolizer = new UserSymbolizer();
  const cache = new Map<string, { addresses: string; symbols: string }>();
  let lastBatch: Batch | undefined;
  const empty = { addresses: '', symbols: '' };
  const resolve = (b: Batch, i: number): { addresses: string; symbols: string } => {
    if (b !== lastBatch) {
      symbolizer.invalidate();
      lastBatch = b;
    }
    const id = Number(stackId(b, i));
    if (id === NO_STACK || (inode && Number(inode(b, i)) === 0)) return empty;
    const pid = Number(tgid(b, i));
    const key = `${pid}:${id}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const r = asked(env, 'ustack', key, () => {
      const addrs = readStack(env, USTACK_MAP, id);
      if (!addrs) return undefined;
      let addresses = '';
      let symbols = '';
      for (let k = 0; k < addrs.length; k++) {
        const a = Number(addrs[k]);
        if (a === 0) break;
        const hex = `0x${a.toString(16)}`;
        addresses += `${hex}; `;
        // return addresses point after the call: look up the byte before, except for the innermost frame
        symbols += `${symbolizer.symbol(pid, k === 0 ? a : a - 1) ?? hex}; `;
      }
      return { addresses, symbols };
    }, undefined, `${raw.fullName}.symbols`);
    if (!r) return empty;
    cache.set(key, r);
    return r;
  };
  for (const [sub, desc] of [['addresses', 'User stack addresses'], ['symbols', 'User stack symbols']] as const) {
    const f = ds.addField({
      name: sub, parent: raw, kind: Kind.String, order: raw.order, tags: ['src:ebpf', 'type:ustack', `name:${sub}`],
      annotations: { description: desc },
      storage: { type: 'derived', compute: (b: Batch, i: number) => resolve(b, i)[sub] },
    });
    f.derivation = userStackDerivation(ds, raw);
    f.setHidden(true);
  }
  for (const f of ds.fields) if (f.parent === raw && !['addresses', 'symbols'].includes(f.name)) f.setHidden(true);
}
