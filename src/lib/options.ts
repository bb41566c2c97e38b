// runGadget's options as `ig run`'s params: the named options are the flags they stand for, `params` names any
// param by flag, short flag or full key. Resolved against the gadget's own param list (local or a daemon's).
import { didYouMean } from '../gadget/suggest.js';
import type { RunGadgetOptions } from './api.js';

/** What a param needs to be found by name (ParamDesc and the API's Param both have it). */
export interface NamedParam { key: string; prefix?: string; alias?: string; alternativeKey?: string }

const list = (v: string | string[]): string => (Array.isArray(v) ? v.join(',') : v);

/** The options as (flag or key, value) pairs, in the order `ig run` would apply them. */
export function optionParams(o: RunGadgetOptions): [string, string][] {
  const out: [string, string][] = [];
  if (o.host !== undefined) out.push(['host', String(o.host)]);
  if (o.filter !== undefined) out.push(['filter', o.filter]);
  if (o.filterExpr !== undefined) out.push(['filter-expr', o.filterExpr]);
  if (o.containers !== undefined) out.push(['containername', list(o.containers)]);
  if (o.pods !== undefined) out.push(['k8s-podname', list(o.pods)]);
  if (o.namespaces !== undefined) out.push(['k8s-namespace', list(o.namespaces)]);
  if (o.selector !== undefined) out.push(['k8s-selector', o.selector]);
  for (const [k, v] of Object.entries(o.params ?? {})) out.push([k, String(v)]);
  return out;
}

/** The full key (prefix + key) of the param a name means; throws one line naming the option when none does. */
export function resolveParam<P extends NamedParam>(params: P[], name: string, image: string): P {
  const bare = name.replace(/^-+/, '');
  const fq = (p: P) => (p.prefix ?? '') + p.key;
  const hit = params.find((p) => fq(p) === bare) ?? params.find((p) => p.key === bare)
    ?? params.find((p) => p.alias === bare) ?? params.find((p) => p.alternativeKey === bare)
    ?? params.find((p) => fq(p).toLowerCase() === bare.toLowerCase());
  if (hit) return hit;
  const hint = didYouMean(bare, params.map((p) => p.key));
  throw new Error(`runGadget(${JSON.stringify(image)}): no param "${bare}"${hint} (the gadget's params are its \`ig run ${image} --help\` flags)`);
}

export function fullKey(p: NamedParam): string {
  return (p.prefix ?? '') + p.key;
}

export function fieldList(fields: string | string[] | undefined): string[] | undefined {
  if (fields === undefined) return undefined;
  return (Array.isArray(fields) ? fields : fields.split(',')).map((f) => f.trim()).filter(Boolean);
}
