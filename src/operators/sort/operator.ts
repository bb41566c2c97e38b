// sort (priority 9500): orders the records of array data sources by --sort (multi-key, stable, "-" = descending).
import type { DataOperator } from '../../gadget/operator.js';
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { isNumericKind, isStringKind, Kind } from '../../datasource/index.js';
import { perDataSource } from '../perds.js';
import { didYouMean } from '../../gadget/suggest.js';

export class SortError extends Error {}

export function compileSort(ds: DataSource, spec: string): (b: Batch) => void {
  const keys: { f: Field; desc: boolean }[] = [];
  for (let part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const desc = part.startsWith('-');
    if (desc || part.startsWith('+')) part = part.slice(1);
    const f = ds.getField(part);
    if (!f) throw new SortError(`invalid --sort: data source ${ds.name} has no field "${part}"${didYouMean(part, ds.fields.filter((x) => !x.isEmpty && !x.unreferenced).map((x) => x.fullName))}`);
    if (!isNumericKind(f.kind) && !isStringKind(f.kind) && f.kind !== Kind.Bool) throw new SortError(`invalid --sort: field ${f.fullName} is not numeric or text`);
    keys.push({ f, desc });
  }
  return (b) => {
    const live = Array.from(b.live.subarray(0, b.liveCount));
    const vals = keys.map(({ f }) => {
      const m = new Map<number, unknown>();
      for (const i of live) m.set(i, f.get(b, i));
      return m;
    });
    live.sort((x, y) => {
      for (let k = 0; k < keys.length; k++) {
        const a = vals[k]!.get(x) as number | string;
        const c = vals[k]!.get(y) as number | string;
        if (a === c) continue;
        const r = a < c ? -1 : 1;
        return keys[k]!.desc ? -r : r;
      }
      return 0;
    });
    b.live.set(live);
  };
}

export const sortOperator: DataOperator = {
  name: 'sort',
  priority: 9500,
  instantiate(ctx) {
    const arrays = [...ctx.dataSources.values()].filter((d) => d.type === 'array');
    if (arrays.length === 0) return null;
    return {
      name: 'sort',
      params: () => [{ key: 'sort', prefix: 'operator.sort.', description: 'Sort array data sources by fields: f1,-f2 (- for descending); ds:f1;ds2:f2 for several', defaultValue: arrays.map((d) => d.annotations.get('sort') ?? '').filter(Boolean).join(';') }],
      preStart() {
        const per = perDataSource(ctx.params.get('operator.sort.sort') ?? '', arrays.map((d) => d.name));
        for (const ds of arrays) {
          const spec = per.get(ds.name);
          if (spec) ds.subscribe(compileSort(ds, spec), 9500);
        }
      },
    };
  },
};
