// What `ig run IMAGE --help` adds after the flags: each data source's fields with their descriptions, as the
// names to use with --fields, --filter and --sort.
import type { GadgetContext } from '../gadget/context.js';
import { FieldFlag } from '../datasource/index.js';
import { defaultColumnFields } from '../operators/cli/fields.js';

export function fieldsHelp(ctx: GadgetContext): string {
  const out: string[] = [''];
  const dss = [...ctx.dataSources.values()];
  if (dss.length === 0) return '';
  out.push('Fields (for --fields, --filter and --sort; * = not shown by default):');
  for (const ds of dss) {
    out.push(`  ${ds.name} (${ds.type === 'array' ? 'rows of a table' : 'stream of events'}):`);
    const shown = new Set(defaultColumnFields(ds));
    const fields = ds.fields
      .filter((f) => !f.unreferenced && !f.isEmpty && !(f.flags & FieldFlag.Container))
      .sort((a, b) => a.fullName.localeCompare(b.fullName));
    const width = Math.min(32, Math.max(...fields.map((f) => f.fullName.length + 2)));
    for (const f of fields) {
      const name = `${f.fullName}${shown.has(f) ? '' : '*'}`;
      const desc = f.annotation('description') ?? '';
      const oneOf = f.annotation('value.one-of');
      const line = `    ${name.padEnd(width)} ${desc}${oneOf ? ` (one of: ${oneOf})` : ''}`;
      out.push(line.trimEnd());
    }
  }
  out.push('');
  return out.join('\n');
}
