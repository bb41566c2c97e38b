import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, Kind, Batch, FieldFlag } from '../datasource/index.js';
import { KindFlagArray } from '../datasource/kinds.js';
import { UpstreamEncoder } from './upstream-wire.js';
import { UpstreamSource } from './upstream-decode.js';
import { describeDataSource } from './wire.js';
import { encodeMessage, decodeMessage, type ApiDataSource } from './proto.js';

test('upstream payloads decode back to the same values (static members, typed values, arrays, single and array)', () => {
  for (const type of ['single', 'array'] as const) {
    const ds = new DataSource('ev', type);
    ds.staticSize = 24;
    const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
    ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
    ds.addField({ name: 'comm', parent: proc, kind: Kind.CString, storage: { type: 'static', offs: 4, size: 16 } });
    ds.addField({ name: 'flags', kind: Kind.Uint8, storage: { type: 'static', offs: 20, size: 1, bitOffset: 1, bitSize: 3 } });
    ds.addField({ name: 'user', kind: Kind.String, storage: { type: 'derived', compute: (_b, i) => `u${i}` } });
    ds.addField({ name: 'big', kind: Kind.Uint64, storage: { type: 'derived', compute: (_b, i) => (i ? 2n ** 64n - 1n : 7) } });
    ds.addField({ name: 'neg', kind: Kind.Int16, storage: { type: 'derived', compute: () => -2 } });
    ds.addField({ name: 'ok', kind: Kind.Bool, storage: { type: 'derived', compute: (_b, i) => i === 0 } });
    ds.addField({ name: 'stack', kind: Kind.Uint64 | KindFlagArray, storage: { type: 'derived', compute: (_b, i) => (i ? [1, 2] : []) } });
    const b = Batch.empty(ds, 2);
    for (let i = 0; i < 2; i++) {
      b.buf.writeUInt32LE(100 + i, b.offs[i]!);
      b.buf.write(`cmd${i}`, b.offs[i]! + 4);
      b.buf[b.offs[i]! + 20] = 0b1010;
    }
    // The client sees the description as the GadgetInfo message carries it.
    const t = decodeMessage<{ dataSources: ApiDataSource[] }>('GadgetInfo', encodeMessage('GadgetInfo', { name: 'x', dataSources: [describeDataSource(ds, 0)] })).dataSources[0]!;
    const src = new UpstreamSource(t);
    const packets = new UpstreamEncoder(ds).packets(b);
    assert.equal(packets.length, type === 'array' ? 1 : 2);
    const rows: unknown[][] = [];
    for (const p of packets) {
      const got = src.decode(p);
      for (const i of got.indices()) rows.push(['proc.pid', 'proc.comm', 'flags', 'user', 'big', 'neg', 'ok', 'stack'].map((n) => src.ds.getField(n)!.get(got, i)));
    }
    assert.deepEqual(rows, [
      [100, 'cmd0', 5, 'u0', 7, -2, true, []],
      [101, 'cmd1', 5, 'u1', 2n ** 64n - 1n, -2, false, [1, 2]],
    ], type);
  }
});
