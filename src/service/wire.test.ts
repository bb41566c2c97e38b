import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batch, DataSource, FieldFlag, Kind } from '../datasource/index.js';
import { DataSourceDecoder, DataSourceEncoder, WireError } from './wire.js';
import { encodeMessage, decodeMessage, type ApiDataSource } from './proto.js';

function sample(): { ds: DataSource; b: Batch } {
  const ds = new DataSource('open', 'single', { annotations: { 'cli.clear-screen-before': 'false' } });
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
  const pid = ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'ts', kind: Kind.Uint64, storage: { type: 'static', offs: 8, size: 8 }, annotations: { 'columns.width': '20' } });
  ds.addField({ name: 'comm', parent: proc, kind: Kind.CString, storage: { type: 'static', offs: 16, size: 16 } });
  const user = ds.addField({ name: 'user', kind: Kind.String, tags: ['t1'] });
  const big = ds.addField({ name: 'big', kind: Kind.Uint64 });
  const arr = ds.addField({ name: 'stack', kind: Kind.Uint64 | 0x10000000 });
  const txt = ds.addField({ name: 'errtext', kind: Kind.Int32 });
  ds.addField({ name: 'derived', kind: Kind.Uint32, storage: { type: 'derived', compute: (b, i) => (pid.get(b, i) as number) * 2 } });
  ds.addField({ name: 'gone', kind: Kind.Uint32, flags: FieldFlag.Unreferenced });
  ds.staticSize = 40;
  const b = ds.newBatch(3);
  for (let i = 0; i < 3; i++) {
    pid.set(b, i, 100 + i);
    ds.getField('ts')!.set(b, i, 2n ** 63n + BigInt(i));
    ds.getField('proc.comm')!.set(b, i, `cmd${i}é`);
    user.set(b, i, i === 1 ? undefined : `user${i}`);
    big.set(b, i, 2n ** 64n - 1n);
    arr.set(b, i, [1, 2n ** 60n] as unknown as bigint[]); // u64 values: numbers when exact, as readU64 gives them
    txt.set(b, i, 'ENOENT');
  }
  return { ds, b };
}

test('a batch round-trips through the field table and the batch form', () => {
  const { ds, b } = sample();
  b.retain((i) => i !== 0); // only live records travel
  const enc = new DataSourceEncoder(ds, 3);
  // The table survives protobuf (as it travels inside GadgetInfo).
  const info = decodeMessage<{ dataSources: ApiDataSource[] }>('GadgetInfo', encodeMessage('GadgetInfo', { name: 'x', dataSources: [enc.table] }));
  const dec = new DataSourceDecoder(info.dataSources[0]!);
  const out = dec.decode(enc.encode(b));
  assert.equal(out.count, 2);
  assert.equal(dec.ds.name, 'open');
  assert.equal(dec.ds.annotations.get('cli.clear-screen-before'), 'false');
  const names = ['proc.pid', 'ts', 'proc.comm', 'user', 'big', 'stack', 'errtext', 'derived'];
  for (let k = 0; k < 2; k++) {
    const i = b.live[k]!;
    for (const n of names) assert.deepEqual(dec.ds.getField(n)!.get(out, k), ds.getField(n)!.get(b, i), `${n} of record ${i}`);
  }
  assert.equal(dec.ds.getField('ts')!.annotation('columns.width'), '20');
  assert.deepEqual(dec.ds.getField('user')!.tags, ['t1']);
  assert.equal(dec.ds.getField('proc.pid')!.parent, dec.ds.getField('proc'));
  assert.ok(dec.ds.getField('gone')!.unreferenced);
  assert.equal(dec.ds.getField('proc.comm')!.storage.type, 'static', 'raw fields are read from the record bytes');
});

test('a truncated or foreign batch is one clear error', () => {
  const { ds, b } = sample();
  const enc = new DataSourceEncoder(ds, 0);
  const dec = new DataSourceDecoder(enc.table);
  const good = enc.encode(b);
  assert.throws(() => dec.decode(good.subarray(0, good.length - 3)), (e: Error) => e instanceof WireError && /truncated/.test(e.message));
  assert.throws(() => dec.decode(Buffer.from('not a batch at all')), /not an ig batch/);
});
