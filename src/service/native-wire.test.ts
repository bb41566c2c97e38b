// Which char arrays a reader's frame writer may clear after their NUL (stringTails): only bytes no field, memo key
// or clock member reads; and the fixes buffer the reader takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from '../datasource/datasource.js';
import { FieldFlag } from '../datasource/field.js';
import { Kind } from '../datasource/kinds.js';
import { recordFixes, stringTails } from './native-wire.js';

const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });

/** struct { u64 ts; char comm[16]; struct { char name[8]; u32 pid; } parent; char path[32]; char raw[8]; char keyed[16]; } */
function makeDs(): DataSource {
  const ds = new DataSource('events', 'single');
  ds.staticSize = 88;
  const ts = ds.addField({ name: 'ts', kind: Kind.Uint64, storage: st(0, 8) });
  ts.derivation = { kind: 'wallclock-ns', offsetNs: 5n };
  ds.addField({ name: 'comm', kind: Kind.CString, storage: st(8, 16) });
  const parent = ds.addField({ name: 'parent', kind: Kind.Bytes, storage: st(24, 12) });
  ds.addField({ name: 'name', parent, kind: Kind.CString, storage: st(24, 8) });
  ds.addField({ name: 'pid', parent, kind: Kind.Uint32, storage: st(32, 4) });
  const group = ds.addField({ name: 'group', kind: Kind.Invalid, flags: FieldFlag.Empty });
  ds.addField({ name: 'path', parent: group, kind: Kind.String, storage: st(36, 32) });
  ds.addField({ name: 'raw', kind: Kind.CString, storage: st(68, 8) });
  ds.addField({ name: 'rawBytes', kind: Kind.Bytes, storage: st(72, 4) }); // overlaps raw
  ds.addField({ name: 'keyed', kind: Kind.CString, storage: st(76, 12) });
  const over = ds.addField({ name: 'overridden', kind: Kind.CString, storage: st(8, 16), fullName: 'overridden' });
  over.override(() => 'x');
  return ds;
}

test('stringTails: C string arrays no other field, key or clock reads after their NUL; not under a struct read as bytes', () => {
  const ds = makeDs();
  // comm is overlapped by the overridden field (a getter of its own may read any byte): left alone too.
  assert.deepEqual(stringTails(ds, [[80, 4]]), [[36, 32]]);
  const plain = makeDs();
  plain.fields.splice(plain.fields.findIndex((f) => f.fullName === 'overridden'), 1);
  assert.deepEqual(stringTails(plain, []), [[8, 16], [36, 32], [76, 12]]);
  assert.deepEqual(stringTails(plain, [[10, 2], [76, 1]]), [[36, 32]], 'memo keys over a string keep its bytes');
});

test('recordFixes: the clock rewrites first (kind 0), then the string tails (kind 1, size)', () => {
  const ds = makeDs();
  const fixes = recordFixes(ds, []);
  assert.equal(fixes.length, 48);
  assert.deepEqual([fixes.readUInt32LE(0), fixes.readUInt32LE(4), fixes.readBigUInt64LE(8)], [0, 0, 5n]);
  assert.deepEqual([fixes.readUInt32LE(16), fixes.readUInt32LE(20), fixes.readBigUInt64LE(24)], [36, 1, 32n]);
  assert.deepEqual([fixes.readUInt32LE(32), fixes.readUInt32LE(36), fixes.readBigUInt64LE(40)], [76, 1, 12n]);
});
