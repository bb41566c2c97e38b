// `params.custom` of gadget.yaml (upstream): params a gadget declares for itself, whose values patch its own
// configuration, e.g. top_process's `--interval` setting `operator.process.interval`:
//
//   params:
//     custom:
//       interval:
//         defaultValue: 3s
//         patch: { operator: { process: { interval: '{{call .getParamValue "custom.interval"}}' } } }
//
// Upstream renders each patch leaf as a Go template; the one form its gadgets use, `{{call .getParamValue
// "custom.<key>"}}`, is what is understood here (other text is taken literally).
import type { GadgetMetadata } from '../gadget/metadata.js';
import type { ParamDesc } from '../gadget/params.js';
import type { GadgetContext } from '../gadget/context.js';

export const CUSTOM_PREFIX = 'custom.';
const CALL = /\{\{-?\s*call\s+\.getParamValue\s+"([^"]+)"\s*-?\}\}/g;

function rec(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The custom params of a gadget.yaml, as params of the run (flag = key, fully qualified `custom.<key>`). */
export function customParams(md: GadgetMetadata): ParamDesc[] {
  const custom = rec(rec(md.raw['params'])['custom']);
  return Object.entries(custom).map(([key, v]) => {
    const p = rec(v);
    const s = (k: string) => (p[k] === undefined || p[k] === null ? undefined : String(p[k]));
    return { key, prefix: CUSTOM_PREFIX, description: s('description'), defaultValue: s('defaultvalue'), typeHint: s('typehint') as ParamDesc['typeHint'] };
  });
}

/** `operator.<name>` with every custom param's patch applied using the run's param values. */
export function operatorConfig(ctx: GadgetContext, name: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...rec(ctx.metadata.operator[name]) };
  const custom = rec(rec(ctx.metadata.raw['params'])['custom']);
  for (const v of Object.values(custom)) {
    const section = rec(rec(rec(v)['patch'])['operator'])[name];
    for (const [k, leaf] of Object.entries(rec(section))) {
      out[k] = typeof leaf === 'string'
        ? leaf.replace(CALL, (_m, key: string) => ctx.params.get(key) ?? '').trim()
        : leaf;
    }
  }
  return out;
}
