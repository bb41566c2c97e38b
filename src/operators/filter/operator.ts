// filter (priority 9000): drops records that do not match --filter rules and -E expressions, after enrichment so
// k8s.*/runtime.* work. The subscription carries the filter as a Predicate tree: an output that renders on the
// reader thread (the cli's native plan) may evaluate it there instead (src/operators/cli/native-plan.ts).
import type { DataOperator } from '../../gadget/operator.js';
import type { ParamDesc } from '../../gadget/params.js';
import { evalPredicate, type Predicate } from '../../datasource/predicate.js';
import { filterPredicate } from './parse.js';
import { compileExpr, exprsPerDataSource } from './expr.js';
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
    }, {
      key: 'filter-expr', alias: 'E', prefix: 'operator.filter.',
      description: 'Filter expression (expr-lang): ==, !=, <, >, in [..], in cidr(..), matches, contains, startsWith, endsWith, len(), and, or, not. With several data sources: ds:expr;ds2:expr',
      defaultValue: '',
    }];
    return {
      name: 'filter',
      params: () => params,
      preStart() {
        const names = dss.map((d) => d.name);
        const rules = perDataSource(ctx.params.get('operator.filter.filter') ?? '', names);
        const exprs = exprsPerDataSource(ctx.params.get('operator.filter.filter-expr') ?? '', names);
        for (const ds of dss) {
          const parts: Predicate[] = [];
          const r = rules.get(ds.name);
          const rp = r ? filterPredicate(ds, r) : undefined;
          if (rp) parts.push(rp);
          const e = exprs.get(ds.name);
          if (e) parts.push(compileExpr(ds, e));
          if (parts.length === 0) continue;
          const pred: Predicate = parts.length === 1 ? parts[0]! : { kind: 'and', args: parts };
          const keep = evalPredicate(pred);
          ds.subscribe((b) => b.retain((i) => keep(b, i)), 9000, { predicate: pred, releasesBatch: true });
        }
      },
    };
  },
};
