// json.skip (upstream's field annotation: the json formatter leaves the field, and everything under it, out): the JS
// encoder and the native plan print the same lines without the skipped fields, and a skipped member that a shown
// field is computed from (trace_exec's args_size and args_count, the length and count of the joined args) is still
// read by the plan's ops and its filter, so the data source keeps the reader-thread path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeTestHooks } from '../harness/native-test-addon.js';
import { DataSource, FieldFlag, Kind, type Batch, type Predicate } from '../../src/datasource/index.js';
import { jsonFields, jsonSkipped, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { compileNativePlan, type NativePlan } from '../../src/operators/cli/native-plan.js';
import { readerBatch, staticAt as st } from './reader-batch.js';

const SIZE = 96;
const SEP = '\u00a0';

/** pid u32 at 0, args_count u32 at 4, args_size u32 at 8, args char[64] at 16, a skipped struct `raw` {a u32, b u32} at 80. */
function source(): DataSource {
  const ds = new DataSource('exec', 'single');
  ds.staticSize = SIZE;
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: st(0, 4) });
  const count = ds.addField({ name: 'args_count', kind: Kind.Uint32, storage: st(4, 4), annotations: { 'json.skip': 'true' } });
  const size = ds.addField({ name: 'args_size', kind: Kind.Uint32, storage: st(8, 4), annotations: { 'json.skip': 'true' } });
  const args = ds.addField({
    name: 'args', kind: Kind.CString, storage: st(16, 64),
    annotations: { 'strings.joined.separator': SEP, 'strings.joined.length': 'args_size', 'strings.joined.count': 'args_count' },
  });
  // What the gadget's WASM module does in JS (the plan's joined op does the same natively): the parts joined.
  args.override((b, i) => {
    const at = b.offs[i]! + 16;
    const n = Math.min(size.get(b, i) as number, 63);
    const parts = b.buf.subarray(at, at + n).toString('utf8').split('\0');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts.slice(0, count.get(b, i) as number).join(SEP);
  });
  // a skipped parent hides its children (upstream skips the field before looking at its subfields)
  const raw = ds.addField({ name: 'raw', kind: Kind.Invalid, flags: FieldFlag.Empty, annotations: { 'json.skip': 'true' } });
  ds.addField({ name: 'a', parent: raw, kind: Kind.Uint32, storage: st(80, 4) });
  ds.addField({ name: 'b', parent: raw, kind: Kind.Uint32, storage: st(84, 4) });
  // only exactly "true" skips, as upstream compares it
  ds.addField({ name: 'kept', kind: Kind.Uint32, storage: st(88, 4), annotations: { 'json.skip': 'yes' } });
  return ds;
}

const ARGV = [['/bin/echo', 'hi'], ['/bin/true'], ['/usr/bin/env', 'a b', '', 'x'], ['/bin/sh', '-c', 'exit 0']];

function records(count: number): Buffer {
  return readerBatch(SIZE, count, (buf, rec, k) => {
    const argv = ARGV[k % ARGV.length]!;
    const bytes = Buffer.from(argv.map((a) => a + '\0').join(''), 'utf8');
    buf.writeUInt32LE(1000 + k, rec);
    buf.writeUInt32LE(argv.length, rec + 4);
    buf.writeUInt32LE(bytes.length, rec + 8);
    bytes.copy(buf, rec + 16);
    buf.writeUInt32LE(7, rec + 80);
    buf.writeUInt32LE(9, rec + 84);
    buf.writeUInt32LE(k, rec + 88);
  });
}

/** The same records as a JS Batch (the reader layout has an 8-byte header per record). */
function batchOf(ds: DataSource, raw: Buffer, count: number): Batch {
  const b = ds.newBatch(count);
  for (let k = 0; k < count; k++) raw.copy(b.buf, b.offs[k]!, k * (SIZE + 8) + 8, (k + 1) * (SIZE + 8));
  return b;
}

test('json.skip: skipped fields and their children are left out, only "true" skips', () => {
  const ds = source();
  assert.deepEqual(jsonFields(ds).map((f) => f.fullName), ['pid', 'args', 'kept']);
  assert.equal(jsonSkipped(ds.getField('raw.a')!), true);
  assert.equal(jsonSkipped(ds.getField('kept')!), false);
  const b = batchOf(ds, records(1), 1);
  assert.equal(makeJsonEncoder(jsonFields(ds))(b, 0), `{"args":"/bin/echo${SEP}hi","kept":0,"pid":1000}`, 'keys sorted, as upstream');
  assert.equal(makeJsonEncoder(jsonFields(ds), 2)(b, 0), `{\n  "args": "/bin/echo${SEP}hi",\n  "kept": 0,\n  "pid": 1000\n}`);
});

test('json.skip: the native plan reads the skipped length and count of the joined args and prints the JS lines byte for byte', () => {
  const ds = source();
  const shown = jsonFields(ds);
  // without the unshown fields the joined op cannot find its length: that refusal sent all of -o json to JS
  const refused = compileNativePlan(shown);
  assert.ok('reason' in refused);
  assert.match(refused.reason, /args_size/);
  const np = compileNativePlan(shown, [], ds.fields) as NativePlan;
  assert.ok(!('reason' in np), (np as unknown as { reason: string }).reason);
  try {
    const count = 40;
    const raw = records(count);
    const enc = makeJsonEncoder(shown);
    const b = batchOf(ds, raw, count);
    let expected = '';
    for (let i = 0; i < count; i++) expected += enc(b, i) + '\n';
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, count);
    assert.deepEqual(res.missed, [], 'no memo: nothing is left to JS');
    assert.equal(res.out.toString('utf8'), expected);
    assert.doesNotMatch(expected, /args_(count|size)|"raw"/);
  } finally {
    np.dispose();
  }
});

test('json.skip: a filter on a skipped member is evaluated natively', () => {
  const ds = source();
  const f = ds.getField('args_count')!;
  const pred: Predicate = { kind: 'cmp', field: f, op: '>=', value: 2n, test: (b, i) => (f.get(b, i) as number) >= 2 };
  const np = compileNativePlan(jsonFields(ds), [pred], ds.fields) as NativePlan;
  assert.ok(!('reason' in np), (np as unknown as { reason: string }).reason);
  try {
    const count = 8;
    const raw = records(count);
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, count);
    assert.deepEqual(res.missed, []);
    const pids = res.out.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { pid: number }).pid);
    // records 1 and 5 have one argument (/bin/true)
    assert.deepEqual(pids, [1000, 1002, 1003, 1004, 1006, 1007]);
  } finally {
    np.dispose();
  }
});
