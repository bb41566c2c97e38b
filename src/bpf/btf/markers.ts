// Gadget discovery (ig-spec §3.1): the gadget headers emit dummy `const void *` globals whose
// *names* encode what to run, e.g. gadget_tracer_<name>___<map>___<struct>. Only BTF VARs can
// carry them (upstream validates each marker as a global const void pointer), so only VARs are scanned.

import type { Btf } from './btf.js';
import type { GadgetMarkers } from './model.js';
import { qualifiersOf } from './layout.js';
import { BtfKind, BtfLinkage, isModifierOrTypedef, type BtfVar } from './types.js';

const SEP = '___';
const TRACER = 'gadget_tracer_';
const TRACER_MAP = 'gadget_map_tracer_';
/** ig's include/gadget/buffer.h: the ring wakes its reader at fill levels and on a clock, not per record. */
const PACED_RING = 'gadget_ringbuf_paced_';
const MAP_ITER = 'gadget_mapiter_';
const ITER = 'gadget_iter_';
const SNAPSHOTTER = 'gadget_snapshotter_';
const PARAM = 'gadget_param_';
const ITER_TARGET = 'gadget_mapelem_iter_target_';
const SK_TARGET = 'gadget_sk_prog_target_';
const VAR = 'gadget_var_';
/** Predates the gadget_var_ prefix; upstream still treats it as an injectable variable. */
const FILTER_BY_MNTNS = 'gadget_filter_by_mntns';

export function collectMarkers(btf: Btf): GadgetMarkers {
  const m: Required<GadgetMarkers> = {
    tracers: [], tracerMaps: [], mapIters: [], iters: [], params: [], vars: [], iterTargetMaps: [], skTargetMaps: [], pacedRings: [],
  };
  for (let id = 1; id < btf.nextId; id++) {
    if (btf.kindOf(id) !== BtfKind.Var) continue;
    const v = btf.type(id) as BtfVar;
    const name = v.name;
    if (!name.startsWith('gadget_')) continue;

    if (name.startsWith(VAR) || name === FILTER_BY_MNTNS) {
      if (isConstVolatile(btf, v) && !m.vars.includes(name)) m.vars.push(name);
      continue;
    }
    if (!isMarkerVar(btf, v)) continue; // same name but not a marker declaration: ignore like upstream

    if (name.startsWith(TRACER)) {
      const [n, map, struct] = split(name, TRACER, 3, '<name>___<map>___<struct>');
      m.tracers.push({ name: n, map, struct });
    } else if (name.startsWith(TRACER_MAP)) {
      const [map] = split(name, TRACER_MAP, 1, '<map>');
      if (!m.tracerMaps.includes(map)) m.tracerMaps.push(map);
    } else if (name.startsWith(PACED_RING)) {
      const [map] = split(name, PACED_RING, 1, '<map>');
      if (!m.pacedRings.includes(map)) m.pacedRings.push(map);
    } else if (name.startsWith(MAP_ITER)) {
      const [n, map] = split(name, MAP_ITER, 2, '<name>___<map>');
      m.mapIters.push({ name: n, map });
    } else if (name.startsWith(ITER) || name.startsWith(SNAPSHOTTER)) {
      const deprecated = name.startsWith(SNAPSHOTTER);
      const parts = split(name, deprecated ? SNAPSHOTTER : ITER, -3, '<name>___<type>___<prog>[___<prog>...]');
      addIter(m, name, parts[0], parts[1], parts.slice(2), deprecated);
    } else if (name.startsWith(PARAM)) {
      const [p] = split(name, PARAM, 1, '<var>');
      if (!m.params.includes(p)) m.params.push(p);
    } else if (name.startsWith(ITER_TARGET)) {
      const [program, map] = split(name, ITER_TARGET, 2, '<prog>___<map>');
      m.iterTargetMaps.push({ program, map });
    } else if (name.startsWith(SK_TARGET)) {
      const [program, map] = split(name, SK_TARGET, 2, '<prog>___<map>');
      m.skTargetMaps.push({ program, map });
    }
  }
  return m;
}

/**
 * Splits the part after `prefix` on "___". `count` > 0 demands exactly that many parts, < 0 at
 * least -count. Single underscores stay inside names (e.g. `open_events`).
 */
function split(full: string, prefix: string, count: number, shape: string): string[] {
  const parts = count === 1 ? [full.slice(prefix.length)] : full.slice(prefix.length).split(SEP);
  const ok = count > 0 ? parts.length === count : parts.length >= -count;
  if (!ok || parts.some((p) => p === '')) {
    throw new Error(`invalid gadget marker "${full}": expected ${prefix}${shape}`);
  }
  return parts;
}

function addIter(m: GadgetMarkers, full: string, name: string, struct: string, programs: string[], deprecated: boolean): void {
  const existing = m.iters.find((i) => i.name === name);
  if (!existing) {
    const entry: GadgetMarkers['iters'][number] = { name, struct, programs };
    if (deprecated) entry.deprecated = true;
    m.iters.push(entry);
    return;
  }
  // GADGET_SNAPSHOTTER may emit both spellings for one data source: merge their program lists.
  if (existing.struct !== struct) {
    throw new Error(`gadget marker "${full}": iterator ${name} already uses struct ${existing.struct}`);
  }
  for (const p of programs) if (!existing.programs.includes(p)) existing.programs.push(p);
}

/** Marker declarations are `const void *name` globals. */
function isMarkerVar(btf: Btf, v: BtfVar): boolean {
  if (v.linkage !== BtfLinkage.Global) return false;
  const ptr = btf.type(v.type);
  if (ptr.kind !== BtfKind.Ptr) return false;
  let t = btf.type(ptr.type);
  let sawConst = false;
  for (let depth = 0; isModifierOrTypedef(t.kind) && depth < 16; depth++) {
    if (t.kind === BtfKind.Const) sawConst = true;
    t = btf.type((t as { type: number }).type);
  }
  return sawConst && t.kind === BtfKind.Void;
}

function isConstVolatile(btf: Btf, v: BtfVar): boolean {
  const q = qualifiersOf(btf, v.type);
  return q.isConst && q.isVolatile;
}
