// limiter (priority 9600): keeps the first --max-entries records of each array batch (after sort).
import type { DataOperator } from '../../gadget/operator.js';
import { perDataSource } from '../perds.js';

export const limiterOperator: DataOperator = {
  name: 'limiter',
  priority: 9600,
  instantiate(ctx) {
    const arrays = [...ctx.dataSources.values()].filter((d) => d.type === 'array');
    if (arrays.length === 0) return null;
    return {
      name: 'limiter',
      params: () => [{
        key: 'max-entries', prefix: 'operator.limiter.', defaultValue: '-1',
        description: 'Maximum number of entries per batch of an array data source (-1: no limit); ds:n,ds2:m for several',
        // -1 (no limit) up to what a batch could ever hold.
        validate: (v) => v.split(',').every((p) => { const n = p.includes(':') ? p.split(':')[1]! : p; return /^-?\d+$/.test(n) && Number(n) >= -1 && Number(n) <= 2 ** 31 - 1; }) ? undefined : 'expected an integer: -1 (no limit) or a number of rows from 0 to 2147483647',
      }],
      preStart() {
        const per = perDataSource(ctx.params.get('operator.limiter.max-entries') ?? '-1', arrays.map((d) => d.name), ',');
        for (const ds of arrays) {
          const n = Number(per.get(ds.name) ?? -1);
          if (n >= 0) ds.subscribe((b) => { if (b.liveCount > n) b.liveCount = n; }, 9600, { releasesBatch: true });
        }
      },
    };
  },
};
