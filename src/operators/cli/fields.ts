// --fields: "a,b" replaces the default columns, "+a,-b" edits them; "ds:list;ds2:list" with several data sources.
import type { DataSource, Field } from '../../datasource/index.js';
import { FieldFlag } from '../../datasource/index.js';
import { didYouMean } from '../../gadget/suggest.js';

export class FieldsError extends Error {}

/** Default columns: visible value fields in `order`, then index. */
export function defaultColumnFields(ds: DataSource): Field[] {
  return ds.fields
    .filter((f) => !f.hidden && !f.unreferenced && !f.isEmpty && !(f.flags & FieldFlag.Container) && !isHiddenByAncestor(f)
      && !(f.storage.type === 'static' && f.annotation('columns.replace') === undefined && hasValueChildren(ds, f)))
    .sort((a, b) => a.order - b.order || a.index - b.index);
}

function isHiddenByAncestor(f: Field): boolean {
  for (let p = f.parent; p; p = p.parent) if (p.hidden) return true;
  return false;
}

function hasValueChildren(ds: DataSource, f: Field): boolean {
  return ds.fields.some((c) => c.parent === f);
}

export function selectFields(ds: DataSource, spec: string | undefined): Field[] {
  const defaults = defaultColumnFields(ds);
  if (!spec) return defaults;
  const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const lookup = (name: string): Field => {
    const f = ds.getField(name);
    if (!f || f.unreferenced) {
      const names = ds.fields.filter((x) => !x.isEmpty && !x.unreferenced).map((x) => x.fullName);
      const hint = didYouMean(name, names);
      throw new FieldsError(`invalid --fields: data source ${ds.name} has no field "${name}"${hint || ` (available: ${names.join(', ')})`}`);
    }
    return f;
  };
  if (items.every((i) => i.startsWith('+') || i.startsWith('-'))) {
    const out = [...defaults];
    for (const it of items) {
      const f = lookup(it.slice(1));
      const at = out.indexOf(f);
      if (it.startsWith('+')) { if (at < 0) out.push(f); } else if (at >= 0) out.splice(at, 1);
    }
    return out;
  }
  return items.map((i) => lookup(i.replace(/^\+/, '')));
}
