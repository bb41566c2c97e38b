// UidGidResolver (priority 5): adds user and group names for gadget_uid / gadget_gid fields. The names are
// derived fields (computed only when shown), looked up in tables cached from /etc/passwd and /etc/group.
import type { DataOperator } from '../../gadget/operator.js';
import { Kind, type DataSource, type Field } from '../../datasource/index.js';
import { IdNames } from './names.js';

const hostRoot = process.env['HOST_ROOT'] ?? '';
const users = new IdNames(`${hostRoot}/etc/passwd`);
const groups = new IdNames(`${hostRoot}/etc/group`);

function target(f: Field, fallback: string): string {
  const t = f.annotation('uidgidresolver.target');
  if (t) return t;
  if (f.name.endsWith('_raw')) return f.name.slice(0, -4);
  return fallback;
}

type Table = { lookup(id: number): string };

export function installResolver(ds: DataSource, tables: { users: Table; groups: Table } = { users, groups }): number {
  let n = 0;
  for (const f of [...ds.fields]) {
    const types = f.typeNames();
    const isUid = types.includes('gadget_uid');
    const isGid = types.includes('gadget_gid');
    if (!isUid && !isGid || f.unreferenced) continue;
    const name = target(f, isUid ? 'user' : 'group');
    const fullName = f.parent ? `${f.parent.fullName}.${name}` : name;
    if (ds.getField(fullName)?.fullName === fullName) continue;
    const get = f.get;
    const table = isUid ? tables.users : tables.groups;
    const named = ds.addField({
      name, parent: f.parent, kind: Kind.String, order: f.order, tags: ['src:uidgidresolver'],
      annotations: { 'columns.hidden': 'true', 'columns.width': '12', description: isUid ? 'User name' : 'Group name' },
      storage: { type: 'derived', compute: (b, i) => table.lookup(Number(get(b, i))) },
    });
    // The tables are re-read when the files change (checked every second): answers may be reused that long.
    named.derivation = { kind: 'computed', inputs: [f], ttlMs: 1000 };
    n++;
  }
  return n;
}

export const uidGidResolverOperator: DataOperator = {
  name: 'UidGidResolver',
  priority: 5,
  instantiate(ctx) {
    let n = 0;
    // Recorded and replayed runs: the names are host facts (the recording's /etc/passwd, not this machine's).
    const facts = ctx.facts;
    const tables = facts.mode === 'live' ? { users, groups } : {
      users: { lookup: (id: number) => facts.ask('user', String(id), () => users.lookup(id), '') },
      groups: { lookup: (id: number) => facts.ask('group', String(id), () => groups.lookup(id), '') },
    };
    for (const ds of ctx.dataSources.values()) n += installResolver(ds, tables);
    if (n > 0 && facts.mode === 'record') {
      // Every name the host has, at start: a replay shows names even for ids the recorded run never printed.
      for (const id of users.ids()) tables.users.lookup(id);
      for (const id of groups.ids()) tables.groups.lookup(id);
    }
    return n > 0 ? { name: 'UidGidResolver' } : null;
  },
};

export { IdNames };
