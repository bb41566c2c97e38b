// --fields: "a,b" replaces the default columns, "+a,-b" edits them; "ds:list;ds2:list" with several data sources.
import type { DataSource, Field } from '../../datasource/index.js';
import { FieldFlag, isStringKind } from '../../datasource/index.js';
import { didYouMean } from '../../gadget/suggest.js';

export class FieldsError extends Error {}

/**
 * Default columns: visible value fields in `order`, then index, with path columns moved to the end (keeping their
 * order): the last column is the one never cut, and a path cut in the middle is a lie about which file it was.
 */
export function defaultColumnFields(ds: DataSource): Field[] {
  const shown = ds.fields
    .filter((f) => !f.hidden && !f.unreferenced && !f.isEmpty && !(f.flags & FieldFlag.Container) && !isHiddenByAncestor(f)
      && !(f.storage.type === 'static' && f.annotation('columns.replace') === undefined && hasValueChildren(ds, f)))
    .sort((a, b) => a.order - b.order || a.index - b.index);
  return [...shown.filter((f) => !isPathColumn(f)), ...shown.filter(isPathColumn)];
}

// Names official and upstream gadgets give their file-path strings (fname, fpath, exepath, cwd, ...).
const PATH_NAMES = /^(f?path|fname|filename|file|exepath|cwd|dir|mountpoint)$/;

/**
 * A string column holding a file path: `columns.path: 'true'` says so explicitly (trace_mount's src/dest), `'false'`
 * opts out; otherwise the usual names of path fields.
 */
export function isPathColumn(f: Field): boolean {
  const declared = f.annotation('columns.path');
  if (declared !== undefined) return declared === 'true';
  return isStringKind(f.kind) && PATH_NAMES.test(f.name);
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
