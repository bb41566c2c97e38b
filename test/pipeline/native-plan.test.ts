// The native JSON plan must print exactly what the JS encoder prints, for every kind of value, and must miss
// (leaving the record to JS) whenever a memo does not know the record's key yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeTestHooks } from '../harness/native-test-addon.js';
import { RenderPlan } from '../../src/bpf/render-plan.js';
import { Batch, DataSource, FieldFlag, Kind } from '../../src/datasource/index.js';
import { installFormatters } from '../../src/operators/formatters/operator.js';
import { enrich, fakeContainer } from './enriched-world.js';
import { readerBatch, staticAt as st } from './reader-batch.js';
import { rng } from './fixtures.js';
import type { Container } from '../../src/containers/index.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { compileNativePlan, planSpec, type NativePlan } from '../../src/operators/cli/native-plan.js';

/** Deterministic pseudo-random numbers (the failures must be reproducible). */

const SIZE = 136;

interface World { ds: DataSource; changed: () => void; containers: Map<bigint, Container> }

/** A record with every kind the plan renders natively, plus fields that operators compute in JS. */
function makeWorld(dir: string): World {
  const ds = new DataSource('all', 'single');
  ds.staticSize = SIZE;
  ds.addField({ name: 'timestamp_raw', kind: Kind.Uint64, tags: ['type:gadget_timestamp'], flags: FieldFlag.StaticMember, storage: st(0, 8) });
  ds.addField({ name: 'u8', kind: Kind.Uint8, storage: st(8, 1) });
  ds.addField({ name: 'i8', kind: Kind.Int8, storage: st(9, 1) });
  ds.addField({ name: 'u16', kind: Kind.Uint16, storage: st(10, 2) });
  ds.addField({ name: 'i16', kind: Kind.Int16, storage: st(12, 2) });
  ds.addField({ name: 'u32', kind: Kind.Uint32, storage: st(16, 4) });
  ds.addField({ name: 'i32', kind: Kind.Int32, storage: st(20, 4) });
  ds.addField({ name: 'u64', kind: Kind.Uint64, storage: st(24, 8) });
  ds.addField({ name: 'i64', kind: Kind.Int64, storage: st(32, 8) });
  ds.addField({ name: 'flag', kind: Kind.Bool, storage: st(40, 1) });
  ds.addField({ name: 'name', kind: Kind.CString, storage: st(41, 23) });
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
  ds.addField({ name: 'uid', parent: proc, kind: Kind.Uint32, tags: ['type:gadget_uid'], storage: st(64, 4) });
  ds.addField({ name: 'error_raw', kind: Kind.Uint32, tags: ['type:gadget_errno'], storage: st(68, 4) });
  ds.addField({ name: 'flags_raw', kind: Kind.Uint32, tags: ['type:gadget_file_flags'], storage: st(72, 4) });
  ds.addField({ name: 'mode_raw', kind: Kind.Uint32, tags: ['type:gadget_file_mode'], storage: st(76, 4) });
  ds.addField({ name: 'mntns_id', kind: Kind.Uint64, tags: ['type:gadget_mntns_id'], storage: st(80, 8) });
  ds.addField({ name: 'path', kind: Kind.CString, storage: st(88, 48) });
  const { containers, changed } = enrich(ds, dir, 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\n"odd\\name":x:7:7::/:/bin/sh\n');
  return { ds, containers, changed };
}

const container = fakeContainer;

/** Bytes that exercise JSON escaping and UTF-8 decoding: ASCII, controls, quotes, valid and broken sequences. */
function nastyString(r: () => number, max: number): Buffer {
  const pieces = [
    Buffer.from('plain'), Buffer.from('"q"'), Buffer.from('back\\slash'), Buffer.from([1, 8, 9, 10, 12, 13, 27, 31, 127]),
    Buffer.from('é—😀'), Buffer.from([0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xc0, 0xaf]), Buffer.from([0xf5, 0x80]), Buffer.from([0xff]), Buffer.from([0xe0, 0x80, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from('\u2028\u2029'),
  ];
  const out: Buffer[] = [];
  let n = 0;
  while (n < max) {
    const p = r() < 0.3 ? Buffer.from([Math.floor(r() * 256)]) : pieces[Math.floor(r() * pieces.length)]!;
    out.push(p);
    n += p.length;
  }
  return Buffer.concat(out).subarray(0, max);
}

/** Random records laid out like a reader batch: [u32 len][u32 cpu][record padded to 8]. */
function randomBatch(r: () => number, count: number, mntnsChoices: bigint[]): Buffer {
  return readerBatch(SIZE, count, (buf, rec) => {
    const ts = r() < 0.1 ? 0n : 10n ** 9n * BigInt(1 + Math.floor(r() * 5)) + BigInt(Math.floor(r() * 1e9));
    buf.writeBigUInt64LE(ts, rec);
    buf.writeUInt8(Math.floor(r() * 256), rec + 8);
    buf.writeInt8(Math.floor(r() * 256) - 128, rec + 9);
    buf.writeUInt16LE(Math.floor(r() * 65536), rec + 10);
    buf.writeInt16LE(Math.floor(r() * 65536) - 32768, rec + 12);
    buf.writeUInt32LE(r() < 0.2 ? 0 : Math.floor(r() * 2 ** 32), rec + 16);
    buf.writeInt32LE(Math.floor(r() * 2 ** 32) - 2 ** 31, rec + 20);
    const big = [0n, 9n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 1n, 10n ** 16n, 10n ** 16n - 1n, BigInt(Math.floor(r() * 2 ** 52)) * 4099n];
    buf.writeBigUInt64LE(big[Math.floor(r() * big.length)]! % 2n ** 64n, rec + 24);
    buf.writeBigInt64LE([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n, -123456789012345n][Math.floor(r() * 5)]!, rec + 32);
    buf.writeUInt8(r() < 0.5 ? 0 : Math.floor(r() * 255) + 1, rec + 40);
    nastyString(r, Math.floor(r() * 30)).copy(buf, rec + 41, 0, 23);
    buf.writeUInt32LE([0, 1000, 7, 555][Math.floor(r() * 4)]!, rec + 64);
    buf.writeUInt32LE([0, 2, 13, 999][Math.floor(r() * 4)]!, rec + 68);
    buf.writeUInt32LE([0, 0o2000000, 0o101, 0o4002][Math.floor(r() * 4)]!, rec + 72);
    buf.writeUInt32LE([0, 0o644, 0o100755][Math.floor(r() * 3)]!, rec + 76);
    buf.writeBigUInt64LE(mntnsChoices[Math.floor(r() * mntnsChoices.length)]!, rec + 80);
    Buffer.from(`/tmp/${Math.floor(r() * 5)}`).copy(buf, rec + 88);
  });
}

/** What the JS path prints for a batch (after the formatters' in-place timestamp rewrite). */
function jsLines(w: World, raw: Buffer, count: number, rewriters: ((b: Batch) => void)[]): { text: string; batch: Batch } {
  const b = batchFromRing(w.ds, Buffer.from(raw), count);
  for (const rw of rewriters) rw(b);
  const enc = makeJsonEncoder(jsonFields(w.ds));
  let text = '';
  for (let i = 0; i < count; i++) text += enc(b, i) + '\n';
  return { text, batch: b };
}

function setup(seed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ig-plan-'));
  const w = makeWorld(dir);
  const rewriters = installFormatters(w.ds);
  const np = compileNativePlan(jsonFields(w.ds));
  if ('reason' in np) throw new Error(`no native plan: ${np.reason}`);
  return { dir, w, rewriters, np: np as NativePlan, r: rng(seed) };
}

test('native plan: every record misses until JS has filled the memos, then lines equal the JS encoder byte for byte', () => {
  const { dir, w, rewriters, np, r } = setup(1);
  try {
    w.containers.set(4026532001n, container(4026532001n, 'web'));
    for (let round = 0; round < 20; round++) {
      const count = 200;
      const raw = randomBatch(r, count, [4026531840n, 4026532001n]);
      const { text, batch } = jsLines(w, raw, count, rewriters);
      let res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, count);
      if (round === 0) assert.equal(res.missed.length, count, 'empty memos: every record is left to JS');
      np.fill(batch);
      res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, count);
      assert.deepEqual(res.missed, [], `round ${round}: no miss after fill`);
      const got = res.out.toString('utf8');
      if (got !== text) {
        const a = got.split('\n'); const e = text.split('\n');
        const k = a.findIndex((l, i) => l !== e[i]);
        assert.equal(a[k], e[k], `round ${round}, line ${k}`);
      }
      assert.equal(res.out.equals(Buffer.from(text, 'utf8')), true);
    }
  } finally {
    np.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native plan: a container change invalidates the memos; new answers match JS', () => {
  const { dir, w, rewriters, np, r } = setup(2);
  try {
    const raw = randomBatch(r, 50, [4026532002n]);
    let js = jsLines(w, raw, 50, rewriters);
    np.fill(js.batch);
    assert.deepEqual(nativeTestHooks().renderPlanRender(np.plan.handle, raw, 50).missed, []);
    assert.match(js.text, /"runtime":\{"containerId":"","containerImageDigest":"","containerImageName":"","containerName":""/);
    // The container appears: LocalManager announces it, and the plan forgets what it knew.
    w.containers.set(4026532002n, container(4026532002n, 'db'));
    w.changed();
    assert.equal(nativeTestHooks().renderPlanRender(np.plan.handle, raw, 50).missed.length, 50);
    js = jsLines(w, raw, 50, rewriters);
    np.fill(js.batch);
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 50);
    assert.deepEqual(res.missed, []);
    assert.equal(res.out.toString('utf8'), js.text);
    assert.match(res.out.toString('utf8'), /"runtime":\{"containerId":"[^"]*","containerImageDigest":"[^"]*","containerImageName":"[^"]*","containerName":"db",[^}]*"runtimeName":"containerd"\}/);
  } finally {
    np.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native plan: C strings are quoted like JSON.stringify(buf.toString("utf8")) for arbitrary bytes', () => {
  const ds = new DataSource('s', 'single');
  ds.staticSize = 64;
  ds.addField({ name: 's', kind: Kind.CString, storage: st(0, 64) });
  const spec = planSpec(jsonFields(ds));
  const plan = RenderPlan.compile(spec);
  const r = rng(3);
  const count = 2000;
  const raw = Buffer.alloc(count * 72);
  let expected = '';
  for (let k = 0; k < count; k++) {
    raw.writeUInt32LE(64, k * 72);
    const bytes = k % 2 ? nastyString(r, 64) : Buffer.from(Array.from({ length: 64 }, () => Math.floor(r() * 256)));
    bytes.copy(raw, k * 72 + 8);
    const nul = bytes.indexOf(0);
    expected += `{"s":${JSON.stringify(bytes.subarray(0, nul < 0 ? 64 : nul).toString('utf8'))}}\n`;
  }
  const res = nativeTestHooks().renderPlanRender(plan.handle, raw, count);
  assert.deepEqual(res.missed, []);
  const got = res.out.toString('utf8').split('\n');
  const exp = expected.split('\n');
  for (let i = 0; i < exp.length; i++) assert.equal(got[i], exp[i], `record ${i}`);
});

test('native plan: fields without a native form keep the data source on the JS path', () => {
  const ds = new DataSource('x', 'single');
  ds.staticSize = 16;
  ds.addField({ name: 'f', kind: Kind.Float64, storage: st(0, 8) });
  ds.addField({ name: 'computed', kind: Kind.String, storage: { type: 'derived', compute: () => 'x' } });
  const np = compileNativePlan(jsonFields(ds));
  assert.ok('reason' in np);
  assert.match((np as { reason: string }).reason, /f: kind|computed: no native form/);
  assert.throws(() => RenderPlan.compile({ ops: Int32Array.from([99, 0, 0, 0]), literals: Buffer.alloc(0), memos: Int32Array.from([0]), wallOffsetNs: 0n }), /render plan: unknown op/);
  assert.throws(() => RenderPlan.compile({ ops: Int32Array.from([1, 5, 10, 0]), literals: Buffer.alloc(4), memos: Int32Array.from([0]), wallOffsetNs: 0n }), /literal out of range/);
});

test('native plan: past their TTL, fragments are still used and the record is handed over for a refresh', () => {
  const { dir, w, rewriters, np, r } = setup(4);
  try {
    const raw = randomBatch(r, 40, [4026532003n]);
    const js = jsLines(w, raw, 40, rewriters);
    np.fill(js.batch);
    let res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 40);
    assert.deepEqual(res.missed, []);
    assert.deepEqual(res.refresh, []);
    // 1.5 s later the user-name and container memos (1 s TTL) are stale: lines still come out, the same text,
    // and the first record of each stale key is handed to JS (once, not for every record).
    res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 40, 1500);
    assert.deepEqual(res.missed, []);
    assert.equal(res.out.toString('utf8'), js.text);
    assert.ok(res.refresh.length > 0 && res.refresh.length < 40, `refresh asked for ${res.refresh.length} records`);
    assert.deepEqual(nativeTestHooks().renderPlanRender(np.plan.handle, raw, 40, 1600).refresh, [], 'asked once per second per entry');
    // JS recomputes them (a refresh batch has boot-clock timestamps: those memos are skipped).
    const refreshBatch = batchFromRing(w.ds, Buffer.from(raw), 40);
    np.fill(refreshBatch, true);
    res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 40, 1700);
    assert.deepEqual(res.refresh, []);
    assert.equal(res.out.toString('utf8'), js.text);
  } finally {
    np.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native plan: a fragment computed before an invalidation is dropped, not stored after it', () => {
  const { dir, w, rewriters, np, r } = setup(5);
  try {
    const raw = randomBatch(r, 10, [4026532004n]);
    const before = jsLines(w, raw, 10, rewriters);
    np.fill(before.batch); // queued: stored before the next record
    w.containers.set(4026532004n, container(4026532004n, 'late'));
    w.changed(); // ... but the container changed first
    assert.equal(nativeTestHooks().renderPlanRender(np.plan.handle, raw, 10).missed.length, 10, 'the stale fragments were not stored');
    const after = jsLines(w, raw, 10, rewriters);
    np.fill(after.batch);
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 10);
    assert.deepEqual(res.missed, []);
    assert.equal(res.out.toString('utf8'), after.text);
    assert.match(after.text, /"containerName":"late"/);
  } finally {
    np.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
