// Gadget instance specs (upstream's manifest format for `run -f FILE`): YAML documents of
//   apiVersion: 1, kind: instance-spec, image, id, name, tags, nodes, paramValues
// several per file, separated by `---`.
import { yaml } from '../format/yaml-lazy.js';

export interface InstanceSpec {
  apiVersion: number;
  kind: string;
  image: string;
  id: string;
  name: string;
  tags: string[];
  nodes: string[];
  paramValues: Record<string, string>;
}

export class InstanceSpecError extends Error {}

const ID_RE = /^[a-f0-9]{32}$/;
const NAME_RE = /^[a-z0-9-_]{1,32}$/;

export function parseInstanceSpecs(text: string, source: string): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  const docs = yaml().parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new InstanceSpecError(`${source}: not a YAML stream`);
  let entry = 0;
  for (const doc of docs) {
    entry++;
    if (doc.errors.length > 0) throw new InstanceSpecError(`${source}: entry ${entry}: ${doc.errors[0]!.message.split('\n')[0]}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new InstanceSpecError(`${source}: entry ${entry} is not a mapping`);
    const o = v as Record<string, unknown>;
    if (o['kind'] !== 'instance-spec') throw new InstanceSpecError(`${source}: expected kind "instance-spec" for entry ${entry}, got "${String(o['kind'] ?? '')}"`);
    if (Number(o['apiVersion']) !== 1) throw new InstanceSpecError(`${source}: expected apiVersion 1 for entry ${entry}, got ${String(o['apiVersion'] ?? 'none')}`);
    const image = typeof o['image'] === 'string' ? o['image'] : '';
    if (!image) throw new InstanceSpecError(`${source}: no image specified in entry ${entry}`);
    const id = o['id'] === undefined || o['id'] === null ? '' : String(o['id']);
    if (id && !ID_RE.test(id)) throw new InstanceSpecError(`${source}: invalid instance id "${id}" in entry ${entry}`);
    const name = o['name'] === undefined || o['name'] === null ? '' : String(o['name']);
    if (name && !NAME_RE.test(name)) throw new InstanceSpecError(`${source}: invalid instance name "${name}" in entry ${entry}`);
    const list = (k: string): string[] => {
      const x = o[k];
      if (x === undefined || x === null) return [];
      if (!Array.isArray(x)) throw new InstanceSpecError(`${source}: ${k} of entry ${entry} must be a list`);
      return x.map(String);
    };
    const tags = list('tags');
    for (const t of tags) if (t.includes(',')) throw new InstanceSpecError(`${source}: invalid character "," in tag "${t}" of entry ${entry}`);
    const pv = o['paramValues'];
    if (pv !== undefined && pv !== null && (typeof pv !== 'object' || Array.isArray(pv))) throw new InstanceSpecError(`${source}: paramValues of entry ${entry} must be a mapping`);
    const paramValues: Record<string, string> = {};
    for (const [k, x] of Object.entries((pv ?? {}) as Record<string, unknown>)) paramValues[k] = x === null ? '' : String(x);
    out.push({ apiVersion: 1, kind: 'instance-spec', image, id, name, tags, nodes: list('nodes'), paramValues });
  }
  if (out.length === 0) throw new InstanceSpecError(`${source}: no instance spec in it`);
  return out;
}
