import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, FieldFlag, Kind } from '../datasource/index.js';
import { dataSourceFromDescription, describeDataSource } from './wire.js';
import { encodeMessage, decodeMessage, type ApiDataSource } from './proto.js';

test('a data source description survives GadgetInfo and gives the client the same fields', () => {
  const ds = new DataSource('open', 'array', { annotations: { 'cli.clear-screen-before': 'true' } });
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
  ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'user', kind: Kind.String, tags: ['t1'], annotations: { 'columns.width': '20' } });
  ds.addField({ name: 'gone', kind: Kind.Uint32, flags: FieldFlag.Unreferenced });
  const info = decodeMessage<{ dataSources: ApiDataSource[] }>('GadgetInfo', encodeMessage('GadgetInfo', { name: 'x', dataSources: [describeDataSource(ds, 3)] }));
  const t = info.dataSources[0]!;
  assert.equal(t.id, 3);
  assert.equal(t.type, 2);
  const pid = t.fields.find((f) => f.fullName === 'proc.pid')!;
  assert.deepEqual([pid.payloadIndex, pid.offs, pid.size, pid.parent, pid.flags & FieldFlag.HasParent], [0, 0, 4, 0, FieldFlag.HasParent]);
  const back = dataSourceFromDescription(t);
  assert.equal(back.type, 'array');
  assert.equal(back.annotations.get('cli.clear-screen-before'), 'true');
  assert.deepEqual(back.fields.map((f) => f.fullName), ['proc', 'proc.pid', 'user', 'gone']);
  assert.equal(back.getField('proc.pid')!.parent, back.getField('proc'));
  assert.equal(back.getField('user')!.annotation('columns.width'), '20');
  assert.deepEqual(back.getField('user')!.tags, ['t1']);
  assert.ok(back.getField('gone')!.unreferenced);
});
