// filter (priority 9000): drops records that do not match --filter, after enrichment so k8s.*/runtime.* work.
import type { DataOperator } from '../../gadget/operator.js';
import type { ParamDesc } from '../../gadget/params.js';
import { compileFilter } from './parse.js';
import { perDataSource } from '../perds.js';

export const filterOperator: DataOperator = {
  name: 'filter',
  priority: 9000,
  instantiate(ctx) {
    const dss = [...ctx.dataSources.values()];
    if (dss.length === 0) return null;
    const params: ParamDesc[] = [{
      key: 'filter', alias: 'F', prefix: 'operator.filter.',
      description: 'Filter rules: field==value, !=, <, >, <=, >=, ~ (regex), !~; comma means and. With several data sources: ds:rules;ds2:rules',
      defaultValue: '',
    }];
    return {
      name: 'filter',
      params: () => params,
      preStart() {
        const v = ctx.params.get('operator.filter.filter') ?? '';
        const per = perDataSource(v, dss.map((d) => d.name));
        for (const ds of dss) {
          const expr = per.get(ds.name);
          if (!expr) continue;
          const pred = compileFilter(ds, expr);
          if (!pred) continue;
          ds.subscribe((b) => b.retain((i) => pred(b, i)), 9000);
        }
      },
    };
  },
};
