import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DataSource, Kind, FieldFlag } from '../datasource/index.js';
import { viewClass, viewFields } from './views.js';

/** pid u32 at 0, comm char[16] at 4, a u64 id at 24; an operator's column `name` and a derived `twice`, nested under proc. */
function source(): DataSource {
  const ds = new DataSource('open', 'single');
  ds.staticSize = 32;
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
  const pid = ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'comm', parent: proc, kind: Kind.CString, storage: { type: 'static', offs: 4, size: 16 } });
  ds.addField({ name: 'id', kind: Kind.Uint64, storage: { type: 'static', offs: 24, size: 8 } });
  ds.addField({ name: 'name', kind: Kind.String });
  ds.addField({ name: 'twice', kind: Kind.Uint32, storage: { type: 'derived', compute: (b, i) => (pid.get(b, i) as number) * 2 } });
  ds.addField({ name: 'secret', kind: Kind.String, annotations: { 'json.skip': 'true' } });
  return ds;
}

test('views read the record bytes, columns and derived values lazily, nested by name', () => {
  const ds = source();
  const b = ds.newBatch(2);
  ds.getField('proc.pid')!.set(b, 0, 42);
  ds.getField('proc.pid')!.set(b, 1, 7);
  ds.getField('proc.comm')!.set(b, 1, 'cat');
  ds.getField('name')!.set(b, 1, 'web');
  b.buf.writeBigUInt64LE(2n ** 60n, b.offs[1]! + 24);
  const V = viewClass(ds, viewFields(ds));
  const e = new V(b, 1) as unknown as { proc: { pid: number; comm: string }; id: bigint; name: string; twice: number; $ds: string; secret?: string; toJSON(): unknown };
  assert.equal(e.proc.pid, 7);
  assert.equal(e.proc.comm, 'cat');
  assert.equal(e.id, 2n ** 60n);
  assert.equal(e.name, 'web');
  assert.equal(e.twice, 14);
  assert.equal(e.$ds, 'open');
  assert.equal(e.secret, undefined, 'json.skip fields are not exposed');
  // The view reads the batch when asked: a later change of the bytes shows.
  ds.getField('proc.pid')!.set(b, 1, 8);
  assert.equal(e.twice, 16);
  assert.deepEqual(e.toJSON(), { proc: { pid: 8, comm: 'cat' }, id: String(2n ** 60n), name: 'web', twice: 16 });
  assert.equal(JSON.stringify(e), JSON.stringify(e.toJSON()));
  assert.match(inspect(e), /comm: 'cat'/);
});

test('fields: only the named fields (a parent brings its children); an unknown name is one clear error', () => {
  const ds = source();
  const b = ds.newBatch(1);
  const V = viewClass(ds, viewFields(ds, ['proc', 'name']));
  const e = new V(b, 0) as unknown as Record<string, unknown>;
  assert.deepEqual(Object.keys((e as unknown as { toJSON(): object }).toJSON()), ['name', 'proc'], 'upstream JSON order: sorted by name');
  assert.equal(e['id'], undefined);
  assert.deepEqual(viewFields(ds, ['proc.comm']).map((f) => f.fullName), ['proc.comm']);
  assert.throws(() => viewFields(ds, ['proc.nope']), /^Error: fields: data source open has no field "proc.nope" \(fields: proc\.pid, proc\.comm, id, name, twice, secret\)$/);
  // a json.skip field is left out by default but can be named (its value stays readable, as upstream's accessors)
  assert.deepEqual(viewFields(ds, ['secret', 'id']).map((f) => f.fullName), ['id', 'secret']);
});
