// gadget.yaml as data from an untrusted image: size-capped, parsed in linear time, and checked for the types
// upstream's metadata struct (pkg/metadata/v1) declares, so `name: 5` or `datasources: "hello"` is an error
// naming the key instead of something that builds and runs.

import type { Node } from 'yaml';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { yaml } from '../format/yaml-lazy.js';
import { OciError } from './errors.js';
import { MAX_METADATA_BYTES, mib } from './limits.js';

/** A bad gadget.yaml; the message names the file (and line or key). */
export class GadgetYamlError extends OciError {}

/**
 * Parse gadget.yaml text into a plain object. The YAML library's own duplicate-key check compares every key with
 * every other (a 4.2 MB file took 14.8 s), so it is off and keys are checked here with one set per map.
 */
export function parseGadgetYaml(text: string | Buffer, source = 'gadget.yaml', cacheDir?: string): Record<string, unknown> {
  const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (bytes > MAX_METADATA_BYTES) throw new GadgetYamlError(`${source}: ${bytes} bytes is more than the ${mib(MAX_METADATA_BYTES)} limit for gadget.yaml`);
  if (!cacheDir) return parseChecked(text, source);
  // The result depends on the text alone: keyed by its sha256, a cached result is the parse of these very bytes.
  const file = join(cacheDir, `${createHash('sha256').update(text).digest('hex')}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // not cached yet (or unreadable): parse and try to store it below
  }
  const js = parseChecked(text, source);
  const json = JSON.stringify(js);
  // Only what JSON carries unchanged is cached (.inf or .nan would come back as null).
  if (isDeepStrictEqual(JSON.parse(json), js)) {
    try {
      mkdirSync(cacheDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, json);
      renameSync(tmp, file);
    } catch {
      // a read-only or foreign store: the next run parses again, nothing else is lost
    }
  }
  return js;
}

function parseChecked(text: string | Buffer, source: string): Record<string, unknown> {
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  const doc = parseDocument(text.toString(), { uniqueKeys: false, lineCounter: lc, prettyErrors: false });
  const at = (offset: number | undefined) => (offset === undefined ? '' : `:${lc.linePos(offset).line}`);
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new GadgetYamlError(`${source}${at(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  checkUniqueKeys(doc.contents as Node | null, (key, offset) => {
    throw new GadgetYamlError(`${source}${at(offset)}: duplicate key "${key}"`);
  });
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new GadgetYamlError(`${source}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (js === null || js === undefined) return {};
  checkShape(js, source);
  return js as Record<string, unknown>;
}

function checkUniqueKeys(root: Node | null, dup: (key: string, offset: number | undefined) => never): void {
  const { isMap, isScalar, isSeq } = yaml();
  const stack: unknown[] = [root];
  while (stack.length) {
    const n = stack.pop();
    if (isMap(n)) {
      const seen = new Set<string>();
      for (const it of n.items) {
        const k = isScalar(it.key) ? String(it.key.value) : String(it.key);
        if (seen.has(k)) dup(k, (it.key as Node | null)?.range?.[0]);
        seen.add(k);
        stack.push(it.value);
      }
    } else if (isSeq(n)) {
      for (const it of n.items) stack.push(it);
    }
  }
}

type Shape = 'string' | 'map' | 'scalars' | 'list' | { map: Record<string, Shape>; each?: Shape } | { mapOf: Shape };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  const s = JSON.stringify(v) ?? String(v);
  return `a ${typeof v} (${s.length > 40 ? s.slice(0, 40) + '…' : s})`;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const scalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

// Field annotations, tags; params as upstream's ParamDesc (key, defaultValue, description, ... all scalars or lists).
const FIELD: Shape = { map: { annotations: 'scalars', tags: 'list' } };
const DATASOURCE: Shape = { map: { annotations: 'scalars', fields: { mapOf: FIELD } } };
// `patch` (params.custom, upstream): the configuration a param's value is written into.
const PARAM: Shape = { map: { patch: 'map' } };
const TOP: Shape = {
  map: {
    name: 'string',
    description: 'string',
    homepageurl: 'string',
    documentationurl: 'string',
    sourceurl: 'string',
    annotations: 'scalars',
    datasources: { mapOf: DATASOURCE },
    params: { mapOf: { mapOf: PARAM } },
    ebpfparams: { mapOf: PARAM },
    paramdefaults: 'scalars',
    operator: 'map',
    programs: { mapOf: 'map' },
  },
};

function checkShape(v: unknown, source: string): void {
  const fail = (key: string, want: string, got: unknown): never => {
    throw new GadgetYamlError(`${source}: "${key}" must be ${want}, not ${describe(got)}`);
  };
  const walk = (val: unknown, shape: Shape, key: string): void => {
    if (val === null || val === undefined) return; // an empty entry (`fields:` with nothing under it) is allowed
    if (shape === 'string') {
      if (typeof val !== 'string') fail(key, 'a string', val);
    } else if (shape === 'list') {
      if (!Array.isArray(val)) fail(key, 'a list', val);
      (val as unknown[]).forEach((x, i) => scalar(x) || fail(`${key}[${i}]`, 'a scalar', x));
    } else if (shape === 'map') {
      if (!isObj(val)) fail(key, 'a map', val);
    } else if (shape === 'scalars') {
      if (!isObj(val)) fail(key, 'a map', val);
      for (const [k, x] of Object.entries(val as object)) if (!scalar(x)) fail(`${key}.${k}`, 'a string', x);
    } else if ('mapOf' in shape) {
      if (!isObj(val)) fail(key, 'a map', val);
      for (const [k, x] of Object.entries(val as object)) walk(x, shape.mapOf, `${key}.${k}`);
    } else {
      if (!isObj(val)) fail(key || 'gadget.yaml', 'a map', val);
      for (const [k, x] of Object.entries(val as object)) {
        const sub = shape.map[k.toLowerCase()];
        if (sub) walk(x, sub, key ? `${key}.${k}` : k);
        else if (shape === PARAM && !scalar(x) && !(Array.isArray(x) && x.every(scalar))) fail(`${key}.${k}`, 'a scalar or a list', x);
      }
    }
  };
  if (!isObj(v)) throw new GadgetYamlError(`${source}: the document must be a map of keys, not ${describe(v)}`);
  walk(v, TOP, '');
}
