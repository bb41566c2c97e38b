// gadget.yaml: parsed once, looked up case-insensitively (upstream reads it through viper).
import { parseGadgetYaml } from '../oci/gadget-yaml.js';
import type { DataSourceConfig } from '../datasource/index.js';

export interface EbpfParamMeta { key?: string; defaultValue?: string; description?: string; alias?: string }

export interface GadgetMetadata {
  name: string;
  description?: string;
  homepageURL?: string;
  documentationURL?: string;
  sourceURL?: string;
  annotations: Record<string, string>;
  datasources: Record<string, DataSourceConfig>;
  ebpfParams: Record<string, EbpfParamMeta>;
  paramDefaults: Record<string, string>;
  operator: Record<string, unknown>;
  programs: Record<string, Record<string, unknown>>;
  /** The whole document with lower-cased keys, for `getConfig`-style lookups. */
  raw: Record<string, unknown>;
}

export class MetadataError extends Error {}

function lowerKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(lowerKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k.toLowerCase()] = lowerKeys(x);
    return out;
  }
  return v;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(asRecord(v))) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
}

/** Look a key up case-insensitively in a plain object (field names keep their case as keys). */
function ci(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  const l = key.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === l) return v;
  return undefined;
}

/** `cacheDir`: where parsed gadget.yaml files are kept by content hash (the run's store), so a run skips the parse. */
export function parseMetadata(text: string | Buffer | null, source = 'gadget.yaml', cacheDir?: string): GadgetMetadata {
  let doc: Record<string, unknown> = {};
  if (text && text.length > 0) {
    // size cap, linear-time parse and type check: run before anything of the gadget is loaded
    try {
      doc = parseGadgetYaml(text, source, cacheDir);
    } catch (e) {
      throw new MetadataError((e as Error).message);
    }
  }
  const dsRaw = asRecord(ci(doc, 'datasources'));
  const datasources: Record<string, DataSourceConfig> = {};
  for (const [dsName, cfg] of Object.entries(dsRaw)) {
    const c = asRecord(cfg);
    const fields: Record<string, { annotations?: Record<string, string>; tags?: string[] }> = {};
    for (const [fname, fcfg] of Object.entries(asRecord(ci(c, 'fields')))) {
      const fc = asRecord(fcfg);
      const tags = ci(fc, 'tags');
      fields[fname] = { annotations: stringMap(ci(fc, 'annotations')), tags: Array.isArray(tags) ? tags.map(String) : [] };
    }
    datasources[dsName] = { annotations: stringMap(ci(c, 'annotations')), fields };
  }
  const params = asRecord(ci(doc, 'params'));
  const ebpfRaw = { ...asRecord(ci(doc, 'ebpfParams')), ...asRecord(ci(params, 'ebpf')) };
  const ebpfParams: Record<string, EbpfParamMeta> = {};
  for (const [v, pm] of Object.entries(ebpfRaw)) {
    const p = asRecord(pm);
    const s = (k: string) => { const x = ci(p, k); return x === undefined || x === null ? undefined : String(x); };
    ebpfParams[v] = { key: s('key'), defaultValue: s('defaultValue'), description: s('description'), alias: s('alias') };
  }
  const pd: Record<string, string> = {};
  for (const [k, v] of Object.entries(stringMap(ci(doc, 'paramDefaults')))) pd[k.toLowerCase()] = v;
  const name = ci(doc, 'name');
  return {
    name: name === undefined ? '' : String(name),
    description: ci(doc, 'description') as string | undefined,
    homepageURL: ci(doc, 'homepageURL') as string | undefined,
    documentationURL: ci(doc, 'documentationURL') as string | undefined,
    sourceURL: ci(doc, 'sourceURL') as string | undefined,
    annotations: stringMap(ci(doc, 'annotations')),
    datasources,
    ebpfParams,
    paramDefaults: pd,
    operator: asRecord(lowerKeys(ci(doc, 'operator'))),
    programs: asRecord(ci(doc, 'programs')) as Record<string, Record<string, unknown>>,
    raw: asRecord(lowerKeys(doc)),
  };
}

/** Dotted lookup in the lower-cased document, e.g. getConfig(md, "programs.foo.attach_to"). */
export function getConfig(md: GadgetMetadata, dotted: string): unknown {
  let cur: unknown = md.raw;
  for (const part of dotted.toLowerCase().split('.')) {
    cur = asRecord(cur)[part];
    if (cur === undefined) return undefined;
  }
  return cur;
}
