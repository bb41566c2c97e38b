// gadget.yaml against the compiled object: `--validate-metadata` (everything named must exist) and
// `--update-metadata` (create the file or add what the object has and the file lacks).

import { promises as fsp } from 'node:fs';
import { parseDocument, isMap, Document } from 'yaml';
import type { Btf } from '../bpf/btf/btf.js';
import type { LayoutField } from '../bpf/btf/model.js';
import type { BtfStruct, BtfVar, BtfPtr } from '../bpf/btf/types.js';

// BTF_KIND_* values (types.ts declares them as a const enum)
const KIND_PTR = 2;
const KIND_STRUCT = 4;
const KIND_UNION = 5;
import { OciError } from './errors.js';
import { parseGadgetYaml } from './gadget-yaml.js';

export interface ObjectDataSource {
  name: string;
  kind: 'tracer' | 'mapiter' | 'iter';
  fields: LayoutField[];
}

/** Data sources the eBPF object declares, with the fields their records carry. */
export function objectDataSources(btf: Btf): ObjectDataSource[] {
  const mk = btf.markers();
  const out: ObjectDataSource[] = [];
  const layout = (struct: string, ds: string): LayoutField[] => {
    try {
      return btf.structLayout(struct).fields;
    } catch (err) {
      throw new OciError(`data source "${ds}": ${(err as Error).message}`);
    }
  };
  for (const t of mk.tracers) out.push({ name: t.name, kind: 'tracer', fields: layout(t.struct, t.name) });
  for (const i of mk.iters) out.push({ name: i.name, kind: 'iter', fields: layout(i.struct, i.name) });
  for (const m of mk.mapIters) out.push({ name: m.name, kind: 'mapiter', fields: mapIterFields(btf, m.map) });
  return out;
}

/** Key and value fields of a BTF-defined map (`__type(key, ...)`, `__type(value, ...)` in `.maps`). */
function mapIterFields(btf: Btf, mapName: string): LayoutField[] {
  const v = btf.datasecVars('.maps').find((x) => x.name === mapName);
  if (!v) return [];
  const def = btf.resolve((btf.type(v.typeId) as BtfVar).type);
  if (def.kind !== KIND_STRUCT) return [];
  const fields: LayoutField[] = [];
  for (const role of ['key', 'value']) {
    const mem = (def as BtfStruct).members.find((m) => m.name === role);
    if (!mem) continue;
    const ptr = btf.resolve(mem.type);
    if (ptr.kind !== KIND_PTR) continue;
    const target = btf.resolve((ptr as BtfPtr).type);
    if (target.kind === KIND_STRUCT || target.kind === KIND_UNION) {
      fields.push(...btf.structLayoutById(target.id).fields);
    } else {
      fields.push({ name: role, fullName: role, offset: 0, size: 0, kind: 0, tags: [], typeNames: [] });
    }
  }
  return fields;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function ci(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  const l = key.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === l) return v;
  return undefined;
}

const TARGET_KEYS = /(^|\.)target$|^ebpf\.formatter\.(enum|kstack|ustack|syscall-params|syscall-ret)$/;
const ENRICHMENT_ROOTS = new Set(['k8s', 'runtime']);

/** Is `name` a field the object's struct has, or one an operator derives from it? */
function fieldKnown(name: string, ds: ObjectDataSource, dsCfg: Record<string, unknown>): boolean {
  const names = new Set(ds.fields.map((f) => f.fullName));
  if (names.has(name)) return true;
  if (names.has(`${name}_raw`)) return true; // converters name their output after the `_raw` member
  const root = name.split('.')[0];
  if (ENRICHMENT_ROOTS.has(root)) return true;
  const dot = name.lastIndexOf('.');
  const parent = dot === -1 ? '' : name.slice(0, dot);
  const leaf = name.slice(dot + 1);
  // explicit converter targets given as field annotations
  const fieldsCfg = asRecord(ci(dsCfg, 'fields'));
  for (const [fname, fcfg] of Object.entries(fieldsCfg)) {
    const ann = asRecord(ci(asRecord(fcfg), 'annotations'));
    for (const [k, v] of Object.entries(ann)) {
      if (!TARGET_KEYS.test(k) || typeof v !== 'string') continue;
      const fdot = fname.lastIndexOf('.');
      const sibling = fdot === -1 ? v : `${fname.slice(0, fdot)}.${v}`;
      if (v === name || sibling === name) return true;
    }
  }
  const dsAnn = asRecord(ci(dsCfg, 'annotations'));
  const rest = dsAnn['ebpf.rest.name'];
  if (typeof rest === 'string' && (rest === name || `rest.${rest}` === name)) return true;
  // sub-fields operators add below well-known gadget structs (endpoints, user stacks, process info)
  for (const f of ds.fields) {
    if (!f.isStructParent) continue;
    const gadgetStruct = (f.structName ?? '').startsWith('gadget_') || f.typeNames.some((t) => t.startsWith('gadget_'));
    if (gadgetStruct && name.startsWith(f.fullName + '.')) return true;
  }
  // uidgidresolver's user/group next to gadget_uid/gadget_gid
  if (leaf === 'user' || leaf === 'group') {
    const want = leaf === 'user' ? 'gadget_uid' : 'gadget_gid';
    if (ds.fields.some((f) => (f.parentFullName ?? '') === parent && f.typeNames.includes(want))) return true;
  }
  return false;
}

/** Parse gadget.yaml text into a plain object (errors name the file). */
export function parseMetadataYaml(text: string, file: string): Record<string, unknown> {
  return parseGadgetYaml(text, file);
}

/**
 * gadget.yaml against the object, as upstream: an eBPF param it names must exist (error); data sources and
 * fields it names but the object lacks only give warnings (returned), because a WASM module or an operator may
 * add them and upstream's own gadgets carry such entries. A gadget with a WASM module gets no warning for a
 * whole data source (the module may create it).
 */
export async function validateMetadata(meta: Record<string, unknown>, object: Buffer, file: string, hasWasm = false): Promise<string[]> {
  const btf = await loadBtf(object);
  const sources = objectDataSources(btf);
  const byName = new Map(sources.map((d) => [d.name, d]));
  const dsCfgs = asRecord(ci(meta, 'datasources'));
  const warnings: string[] = [];
  for (const [dsName, raw] of Object.entries(dsCfgs)) {
    const ds = byName.get(dsName);
    if (!ds) {
      if (hasWasm) continue;
      const known = sources.map((d) => d.name).join(', ') || 'none';
      warnings.push(`${file}: data source "${dsName}" does not exist in the eBPF object (it has: ${known})`);
      continue;
    }
    const cfg = asRecord(raw);
    for (const fname of Object.keys(asRecord(ci(cfg, 'fields')))) {
      if (!fieldKnown(fname, ds, cfg)) {
        warnings.push(`${file}: field "${fname}" of data source "${dsName}" does not exist in the eBPF object`);
      }
    }
  }
  const params = new Set(btf.markers().params);
  const ebpfParams = { ...asRecord(ci(meta, 'ebpfParams')), ...asRecord(ci(asRecord(ci(meta, 'params')), 'ebpf')) };
  for (const p of Object.keys(ebpfParams)) {
    if (!params.has(p)) throw new OciError(`${file}: ebpf param "${p}" does not exist in the eBPF object (no GADGET_PARAM(${p}))`);
  }
  return warnings;
}

/** Parse the BTF of an eBPF ELF object (the BTF module is loaded on first use only). */
export async function loadBtf(object: Buffer): Promise<Btf> {
  const { Btf } = await import('../bpf/btf/btf.js');
  try {
    return Btf.fromElf(object);
  } catch (err) {
    throw new OciError(`cannot read BTF from the eBPF object: ${(err as Error).message}`);
  }
}

const TODO_FIELD = 'TODO: Fill field description';
const TODO_PARAM = 'TODO: Fill parameter description';
/** params whose user-facing key comes from the gadget headers (filter.h, user_stack_map.h) */
const HEADER_PARAMS = new Set([
  'targ_pid', 'targ_tid', 'targ_uid', 'targ_gid', 'targ_comm', 'collect_ustack', 'collect_build_id', 'collect_otel_stack',
  'ig_build_id_max_entries',
]);

function topKey(doc: Document, name: string): string {
  const root = doc.contents;
  if (isMap(root)) {
    for (const it of root.items) {
      const k = String((it.key as { value?: unknown })?.value ?? it.key);
      if (k.toLowerCase() === name.toLowerCase()) return k;
    }
  }
  return name;
}

/**
 * Create gadget.yaml from the object, or add to an existing one the data sources, fields and params it lacks.
 * Existing content (and comments) is kept. Returns the new text.
 */
export async function updateMetadataText(existing: string | undefined, object: Buffer, file: string): Promise<string> {
  const btf = await loadBtf(object);
  const doc = existing !== undefined ? parseDocument(existing) : new Document({});
  if (doc.errors.length) throw new OciError(`${file}: invalid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as never;
  if (existing !== undefined) await validateMetadata(asRecord(doc.toJS()), object, file);
  for (const [k, v] of [
    ['name', 'TODO: Fill the gadget name'],
    ['description', 'TODO: Fill the gadget description'],
    ['homepageURL', 'TODO: Fill the gadget homepage URL'],
    ['documentationURL', 'TODO: Fill the gadget documentation URL'],
    ['sourceURL', 'TODO: Fill the gadget source code URL'],
  ]) {
    const key = topKey(doc, k);
    if (!doc.has(key)) doc.set(key, v);
  }
  // keep the descriptive keys first, in the usual order
  const root = doc.contents;
  if (isMap(root)) {
    const order = ['name', 'description', 'homepageurl', 'documentationurl', 'sourceurl'];
    const rank = (it: (typeof root.items)[number]) => {
      const i = order.indexOf(String((it.key as { value?: unknown })?.value ?? it.key).toLowerCase());
      return i === -1 ? order.length : i;
    };
    root.items = root.items.map((it, i) => ({ it, i })).sort((a, b) => rank(a.it) - rank(b.it) || a.i - b.i).map((x) => x.it);
  }
  const dsKey = topKey(doc, 'datasources');
  for (const ds of objectDataSources(btf)) {
    if (!doc.hasIn([dsKey, ds.name])) doc.setIn([dsKey, ds.name], doc.createNode({ fields: {} }));
    const fieldsKey = (() => {
      const m = doc.getIn([dsKey, ds.name]);
      if (isMap(m)) for (const it of m.items) {
        const k = String((it.key as { value?: unknown })?.value ?? it.key);
        if (k.toLowerCase() === 'fields') return k;
      }
      return 'fields';
    })();
    for (const f of ds.fields) {
      if (doc.hasIn([dsKey, ds.name, fieldsKey, f.fullName])) continue;
      doc.setIn([dsKey, ds.name, fieldsKey, f.fullName], doc.createNode({ annotations: { description: TODO_FIELD } }));
    }
  }
  const params = btf.markers().params.filter((p) => !HEADER_PARAMS.has(p));
  if (params.length) {
    const pKey = topKey(doc, 'params');
    const legacy = asRecord(ci(asRecord(doc.toJS()), 'ebpfParams'));
    for (const p of params) {
      if (p in legacy || doc.hasIn([pKey, 'ebpf', p])) continue;
      doc.setIn([pKey, 'ebpf', p], doc.createNode({ key: p, defaultValue: '', description: TODO_PARAM }));
    }
  }
  return doc.toString();
}

export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OciError(`cannot read ${file}: ${(err as Error).message}`);
  }
}
