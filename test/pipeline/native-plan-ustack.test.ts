// Upstream-style user stacks (`struct gadget_user_stack ustack` → ustack.addresses / ustack.symbols) in the
// native render plan: the texts are memos keyed by the stack's identity (stack id, tgid, executable inode, image
// hash). A record of a new stack is left to JS; once JS filled the memos, the native lines equal the JS
// encoder's byte for byte; the all-zero stack of a run without --collect-ustack is one key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { nativeTestHooks } from '../harness/native-test-addon.js';
import { DataSource, FieldFlag, Kind } from '../../src/datasource/index.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';
import { addStackFields, USTACK_MAP } from '../../src/operators/ebpf/stacks.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { compileNativePlan, planSpec, type NativePlan } from '../../src/operators/cli/native-plan.js';
import { rng } from './fixtures.js';
import { readerBatch, staticAt as st } from './reader-batch.js';

const SIZE = 96;
const USTACK = 16;

/** Addresses inside this process' own executable mappings, so that the symboliser resolves real names. */
function codeAddresses(): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp \S+ \S+ \d+\s+(\/\S+)/.exec(line);
    if (!m) continue;
    const lo = parseInt(m[1]!, 16);
    const hi = parseInt(m[2]!, 16);
    for (let k = 1; k <= 4; k++) out.push(lo + Math.floor(((hi - lo) * k) / 5));
  }
  return out;
}

function makeDs(stacks: Map<number, number[]>): DataSource {
  const ds = new DataSource('open', 'single');
  ds.staticSize = SIZE;
  ds.addField({ name: 'fname', kind: Kind.CString, storage: st(0, 16) });
  const us = ds.addField({ name: 'ustack', kind: Kind.Invalid, flags: FieldFlag.Empty });
  Object.assign(us, { structName: 'gadget_user_stack' });
  const members: [string, number, number, number][] = [
    ['major', Kind.Uint32, 0, 4], ['minor', Kind.Uint32, 4, 4], ['inode', Kind.Uint64, 8, 8], ['mtime_sec', Kind.Uint64, 16, 8],
    ['mtime_nsec', Kind.Uint32, 24, 4], ['base_addr_hash', Kind.Uint32, 28, 4], ['stack_id', Kind.Uint32, 32, 4],
    ['tgid_level0', Kind.Uint32, 36, 4], ['pid_level0', Kind.Uint32, 40, 4], ['pidns_level0', Kind.Uint32, 44, 4],
    ['pid_level1', Kind.Uint32, 48, 4], ['pidns_level1', Kind.Uint32, 52, 4], ['otel_correlation_id', Kind.Uint64, 56, 8],
    ['boot_timestamp', Kind.Uint64, 64, 8],
  ];
  for (const [name, kind, offs, size] of members) ds.addField({ name, parent: us, kind, flags: FieldFlag.StaticMember, storage: st(USTACK + offs, size) });
  // The STACK_TRACE map as the loaded object would answer: u64 addresses, zero-terminated.
  const map = {
    lookup(key: Buffer): Buffer | null {
      const addrs = stacks.get(key.readUInt32LE(0));
      if (!addrs) return null;
      const v = Buffer.alloc(8 * 127);
      addrs.forEach((a, k) => v.writeBigUInt64LE(BigInt(a), k * 8));
      return v;
    },
  } as unknown as BpfMap;
  addStackFields(ds, { map: (n) => (n === USTACK_MAP ? map : undefined), warn: (m) => assert.fail(m) });
  return ds;
}

/** Records: no stack (all zero, as without --collect-ustack) or one of the known stacks of this process. */
function batch(r: () => number, count: number, ids: number[]): Buffer {
  return readerBatch(SIZE, count, (buf, rec) => {
    Buffer.from(`/f/${Math.floor(r() * 100)}`).copy(buf, rec);
    const id = ids[Math.floor(r() * ids.length)]!;
    if (id === 0) return;
    const u = rec + USTACK;
    buf.writeUInt32LE(254, u);
    buf.writeBigUInt64LE(1234567n, u + 8);
    buf.writeUInt32LE(0xabcdef, u + 28);
    buf.writeUInt32LE(id, u + 32);
    buf.writeUInt32LE(process.pid, u + 36);
    buf.writeUInt32LE(process.pid, u + 40);
    buf.writeBigUInt64LE(BigInt(Math.floor(r() * 1e12)), u + 64); // differs per record, not part of the key
  });
}

test('native plan: ustack.addresses/.symbols are memos per stack; after JS filled them the lines equal the JS encoder byte for byte', () => {
  const code = codeAddresses();
  assert.ok(code.length >= 8, 'this process has executable mappings');
  const stacks = new Map<number, number[]>([[7, code.slice(0, 3)], [9, code.slice(2, 8)], [11, [code[1]!]]]);
  const ds = makeDs(stacks);
  const np = compileNativePlan(jsonFields(ds));
  assert.ok(!('reason' in np), `native plan: ${(np as { reason?: string }).reason}`);
  const plan = np as NativePlan;
  const enc = makeJsonEncoder(jsonFields(ds));
  const r = rng(11);
  try {
    const count = 300;
    const raw = batch(r, count, [0, 7, 9, 11]);
    const b = batchFromRing(ds, Buffer.from(raw), count);
    let text = '';
    for (let i = 0; i < count; i++) text += enc(b, i) + '\n';
    assert.match(text, /"ustack":\{"addresses":"0x[0-9a-f]+; 0x[0-9a-f]+; 0x[0-9a-f]+; ",[^}]*"symbols":"[^"]+"/);
    assert.match(text, /"ustack":\{"addresses":"","base_addr_hash":0,[^}]*"major":0,[^}]*"symbols":""/);
    assert.match(text, /"symbols":"[A-Za-z_]/, 'some addresses resolve to names');
    let res = nativeTestHooks().renderPlanRender(plan.plan.handle, raw, count);
    assert.ok(res.missed.length > 0, 'unknown stacks are left to JS');
    plan.fill(b);
    res = nativeTestHooks().renderPlanRender(plan.plan.handle, raw, count);
    assert.deepEqual(res.missed, [], 'every stack known after one fill');
    assert.equal(res.out.toString('utf8'), text);
    // the same stack id in another process (or another image of it) is another key
    const other = Buffer.from(raw);
    other.writeUInt32LE(process.pid + 1, 8 + USTACK + 36);
    other.writeUInt32LE(7, 8 + USTACK + 32);
    assert.deepEqual(nativeTestHooks().renderPlanRender(plan.plan.handle, other, 1).missed, [0]);
  } finally {
    plan.dispose();
  }
});

test('native plan: an all-zero ustack (no --collect-ustack) is one cached piece, byte-identical to JS across fills and invalidations', () => {
  const code = codeAddresses();
  const ds = makeDs(new Map([[7, code.slice(0, 3)]]));
  // the struct's 72 bytes are one zero span over its 16 values (14 members, the two stack texts)
  const ops = Array.from(planSpec(jsonFields(ds)).ops);
  const spans: number[][] = [];
  for (let k = 0; k < ops.length; k += 4) if (ops[k] === 42) spans.push(ops.slice(k, k + 4));
  assert.deepEqual(spans, [[42, USTACK, 72, 16]]);
  const np = compileNativePlan(jsonFields(ds));
  assert.ok(!('reason' in np), `native plan: ${(np as { reason?: string }).reason}`);
  const plan = np as NativePlan;
  const enc = makeJsonEncoder(jsonFields(ds));
  try {
    const count = 200;
    const raw = batch(rng(5), count, [0, 0, 0, 7]);
    // zero stacks whose other members are not all zero: rendered value by value
    for (const k of [3, 50, 51]) {
      const u = k * (8 + SIZE) + 8 + USTACK;
      raw.fill(0, u, u + 72);
      raw.writeBigUInt64LE(BigInt(k) * 1000n + 1n, u + 64);
    }
    const b = batchFromRing(ds, Buffer.from(raw), count);
    let text = '';
    for (let i = 0; i < count; i++) text += enc(b, i) + '\n';
    assert.match(text, /"ustack":\{"addresses":"","base_addr_hash":0,"boot_timestamp":0,[^}]*"major":0,[^}]*"symbols":""/);
    assert.match(text, /"boot_timestamp":50001/);
    const render = () => nativeTestHooks().renderPlanRender(plan.plan.handle, raw, count);
    assert.ok(render().missed.length > 0, 'the zero stack\'s texts come from JS first');
    plan.fill(b);
    for (let round = 0; round < 3; round++) {
      const res = render();
      assert.deepEqual(res.missed, [], `round ${round}`);
      assert.equal(res.out.toString('utf8'), text, `round ${round}: the cached piece is the ops' text`);
    }
    // an invalidation drops the piece with the memos: nothing stale is printed, and it is made again
    plan.plan.invalidate();
    assert.equal(render().missed.length, count);
    plan.fill(b);
    assert.equal(render().out.toString('utf8'), text);
    assert.equal(render().out.toString('utf8'), text);
  } finally {
    plan.dispose();
  }
});
