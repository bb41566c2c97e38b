// Which char arrays a reader's frame writer may clear after their NUL (stringTails): only bytes no field, memo key
// or clock member reads; and the fixes buffer the reader takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from '../datasource/datasource.js';
import { FieldFlag } from '../datasource/field.js';
import { Kind } from '../datasource/kinds.js';
import { Batch } from '../datasource/batch.js';
import { PacketEncoder } from '../datasource/codec.js';
import { firstRecord, NativeBatchEncoder, recordFixes, stringTails } from './native-wire.js';

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

/** struct { char comm[16]; u8 pad[24]; u32 uid; u32 pad2; } with `user` computed from uid, valid 1000 ms (as the uid resolver's). */
function userDs(calls: number[]): DataSource {
  const d = new DataSource('open', 'single');
  d.staticSize = 48;
  d.addField({ name: 'comm', kind: Kind.CString, flags: FieldFlag.StaticMember, storage: st(0, 16) });
  const uid = d.addField({ name: 'uid', kind: Kind.Uint32, flags: FieldFlag.StaticMember, storage: st(40, 4) });
  const user = d.addField({ name: 'user', kind: Kind.String, storage: { type: 'derived', compute: (b, i) => { calls.push(Number(uid.get(b, i))); return `u${String(uid.get(b, i))}`; } } });
  user.derivation = { kind: 'computed', inputs: [uid], ttlMs: 1000 };
  return d;
}

function userBatch(ds: DataSource, uids: number[]): Batch {
  const b = Batch.empty(ds, uids.length);
  uids.forEach((u, i) => { b.buf.write(`c${i}`, b.offs[i]!); b.buf.writeUInt32LE(u, b.offs[i]! + 40); });
  return b;
}

test('firstRecord: the first record of a batch frame, byte for byte as encoded', () => {
  const ds = userDs([]);
  const enc = new PacketEncoder();
  enc.encode(ds.newBatch(0));
  const b = userBatch(ds, [1234, 5]);
  b.buf.write('x', b.offs[0]! + 20); // literal bytes between two zero runs
  const frame = enc.encode(b);
  assert.deepEqual(firstRecord(frame, 48), b.buf.subarray(b.offs[0]!, b.offs[0]! + 48));
  assert.equal(firstRecord(frame.subarray(0, 12), 48), undefined, 'a cut frame');
});

test('refreshFrom: the memo answers with a TTL are computed again from a frame\'s first record, every half TTL', () => {
  const calls: number[] = [];
  const ds = userDs(calls);
  const enc = new PacketEncoder();
  enc.encode(ds.newBatch(0));
  const nat = NativeBatchEncoder.create(enc, ds) as NativeBatchEncoder;
  assert.ok(nat instanceof NativeBatchEncoder);
  const frame = nat.encode(userBatch(ds, [1000, 1000]));
  assert.deepEqual(calls, [1000], 'the miss filled once');
  nat.refreshFrom(frame, 10_000);
  assert.deepEqual(calls, [1000, 1000], 'filled again for the first record');
  nat.refreshFrom(frame, 10_400);
  assert.deepEqual(calls, [1000, 1000], 'not again before half the TTL');
  nat.refreshFrom(frame, 10_500);
  assert.deepEqual(calls, [1000, 1000, 1000]);
  assert.deepEqual(nat.encode(userBatch(ds, [1000])), enc.encode(userBatch(ds, [1000])), 'the same frame as the JS encoder');
  nat.close();
});
