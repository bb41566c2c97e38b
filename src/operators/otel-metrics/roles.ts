// A field's role in metrics: `metrics.type` when set, else from its BTF typedef (upstream's well-known types).
import type { Field } from '../../datasource/index.js';

export type Role = 'key' | 'histogram' | 'counter' | 'gauge';

export function metricRole(f: Field): Role | undefined {
  const t = f.annotation('metrics.type');
  if (t === 'key' || t === 'counter' || t === 'gauge' || t === 'histogram') return t;
  if (t) return undefined;
  const types = f.typeNames();
  if (types.some((x) => x.startsWith('gadget_histogram_slot__'))) return 'histogram';
  if (types.some((x) => x.startsWith('gadget_counter__'))) return 'counter';
  if (types.some((x) => x.startsWith('gadget_gauge__'))) return 'gauge';
  return undefined;
}
