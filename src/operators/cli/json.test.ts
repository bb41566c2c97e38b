import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, FieldFlag, Kind } from '../../datasource/index.js';
import { jsonFields, makeJsonEncoder } from './json.js';

test("keys are sorted by name at each level, byte-wise like upstream's strings.Compare, whatever the field order", () => {
  const ds = new DataSource('order', 'single');
  ds.staticSize = 16;
  const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });
  ds.addField({ name: 'zeta', kind: Kind.Uint8, storage: st(0, 1) });
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
  ds.addField({ name: 'tid', parent: proc, kind: Kind.Uint8, storage: st(1, 1) });
  ds.addField({ name: 'Comm', parent: proc, kind: Kind.Uint8, storage: st(2, 1) });
  ds.addField({ name: 'comm', parent: proc, kind: Kind.Uint8, storage: st(3, 1) });
  ds.addField({ name: 'a_b', kind: Kind.Uint8, storage: st(4, 1) });
  ds.addField({ name: 'a-b', kind: Kind.Uint8, storage: st(5, 1) });
  ds.addField({ name: 'ab', kind: Kind.Uint8, storage: st(6, 1) });
  const b = ds.newBatch(1);
  b.buf.set([1, 2, 3, 4, 5, 6, 7], b.offs[0]!);
  // byte order: '-' (0x2d) < 'Z'/'C' (0x43) < '_' (0x5f) < 'b' (0x62) < 'c' (0x63)
  assert.equal(makeJsonEncoder(jsonFields(ds))(b, 0), '{"a-b":6,"a_b":5,"ab":7,"proc":{"Comm":3,"comm":4,"tid":2},"zeta":1}');
  assert.equal(makeJsonEncoder([...jsonFields(ds)].reverse())(b, 0), '{"a-b":6,"a_b":5,"ab":7,"proc":{"Comm":3,"comm":4,"tid":2},"zeta":1}', 'the order fields come in does not matter');
});
