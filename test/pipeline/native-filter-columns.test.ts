// Filters and column rows rendered by the native plan must give exactly what the JS pipeline gives: the same
// records kept (for --filter rules, -E expressions, and a fuzz of generated expressions), the same row text for
// every column kind (widths, alignment, ellipses, hex, wide and control characters). A record the plan cannot
// render (a memo it does not know yet, a character whose width depends on its neighbours) is a miss: JS renders it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeTestHooks } from '../harness/native-test-addon.js';
import { Batch, DataSource, FieldFlag, Kind, evalPredicate, type Predicate } from '../../src/datasource/index.js';
import { installFormatters } from '../../src/operators/formatters/operator.js';
import { enrich, fakeContainer } from './enriched-world.js';
import { readerBatch, staticAt as st } from './reader-batch.js';
import { rng } from './fixtures.js';
import type { Container } from '../../src/containers/index.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { columnFor, rowLine, type Column } from '../../src/operators/cli/columns.js';
import { compileNativePlan, compileNativeColumns, type NativePlan } from '../../src/operators/cli/native-plan.js';
import { filterPredicate } from '../../src/operators/filter/parse.js';
import { compileExpr } from '../../src/operators/filter/expr.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const SIZE = 112;
const COMMS = ['cat', 'curl', 'wget', 'igb_storm', 'a"b', 'tab\there', 'nl\nx', 'é—😀', '日本語の名前', 'x\u2028y', 'bad\xff', ''];
const PATHS = ['/etc/hostname', '/tmp/a', '/tmp/日本/ファイル', '/tmp/\x1b[31mred', '/very/long/path/that/goes/on/and/on/and/on', '/c1\u0085', 'ZZ', ''];

interface World { ds: DataSource; containers: Map<bigint, Container>; changed: () => void; rewriters: ((b: Batch) => void)[] }

function makeWorld(dir: string): World {
  const ds = new DataSource('ev', 'single');
  ds.staticSize = SIZE;
  ds.addField({ name: 'timestamp_raw', kind: Kind.Uint64, tags: ['type:gadget_timestamp'], flags: FieldFlag.StaticMember, storage: st(0, 8) });
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
  ds.addField({ name: 'comm', parent: proc, kind: Kind.CString, storage: st(8, 16) });
  ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: st(24, 4) });
  ds.addField({ name: 'uid', parent: proc, kind: Kind.Uint32, tags: ['type:gadget_uid'], storage: st(28, 4) });
  ds.addField({ name: 'i8', kind: Kind.Int8, storage: st(32, 1) });
  ds.addField({ name: 'u8', kind: Kind.Uint8, storage: st(33, 1) });
  ds.addField({ name: 'i16', kind: Kind.Int16, storage: st(34, 2) });
  ds.addField({ name: 'i32', kind: Kind.Int32, storage: st(36, 4) });
  ds.addField({ name: 'u64', kind: Kind.Uint64, storage: st(40, 8) });
  ds.addField({ name: 'i64', kind: Kind.Int64, storage: st(48, 8) });
  ds.addField({ name: 'flag', kind: Kind.Bool, storage: st(56, 1) });
  ds.addField({ name: 'error_raw', kind: Kind.Int32, tags: ['type:gadget_errno'], storage: st(60, 4) });
  ds.addField({ name: 'mntns_id', kind: Kind.Uint64, tags: ['type:gadget_mntns_id'], storage: st(64, 8) });
  ds.addField({ name: 'fname', kind: Kind.CString, storage: st(72, 40) });
  const { containers, changed } = enrich(ds, dir, 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\nverylongusername_x:x:7:7::/:/bin/sh\n');
  const rewriters = installFormatters(ds);
  return { ds, containers, changed, rewriters };
}

const container = fakeContainer;

const MNTNS = [4026531840n, 4026532001n, 4026532002n];

function randomBatch(r: () => number, count: number): Buffer {
  return readerBatch(SIZE, count, (buf, rec) => {
    buf.writeBigUInt64LE(10n ** 9n * BigInt(1 + Math.floor(r() * 3)) + BigInt(Math.floor(r() * 1e9)), rec);
    const comm = r() < 0.1 ? Buffer.from([Math.floor(r() * 256), Math.floor(r() * 256), 0xc3]) : Buffer.from(pick(r, COMMS), 'utf8');
    comm.copy(buf, rec + 8, 0, 15);
    buf.writeUInt32LE(pick(r, [1, 42, 4242, 65535, 4294967295]), rec + 24);
    buf.writeUInt32LE(pick(r, [0, 1000, 7, 555]), rec + 28);
    buf.writeInt8(pick(r, [-128, -1, 0, 5, 127]), rec + 32);
    buf.writeUInt8(pick(r, [0, 1, 200, 255]), rec + 33);
    buf.writeInt16LE(pick(r, [-32768, -2, 0, 300, 32767]), rec + 34);
    buf.writeInt32LE(pick(r, [-2147483648, -13, 0, 99999, 2147483647]), rec + 36);
    buf.writeBigUInt64LE(pick(r, [0n, 9n, 2n ** 63n, 2n ** 64n - 1n, 123456789012345678n]), rec + 40);
    buf.writeBigInt64LE(pick(r, [-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n, -123456789012345n]), rec + 48);
    buf.writeUInt8(r() < 0.5 ? 0 : pick(r, [1, 2, 255]), rec + 56);
    buf.writeInt32LE(pick(r, [0, -2, -13, 2, 13]), rec + 60);
    buf.writeBigUInt64LE(pick(r, MNTNS), rec + 64);
    Buffer.from(pick(r, PATHS)).copy(buf, rec + 72, 0, 39);
  });
}

/** One record of a reader batch as its own batch. */
function recordAt(raw: Buffer, k: number): Buffer {
  const stride = 8 + SIZE;
  return raw.subarray(k * stride, (k + 1) * stride);
}

/**
 * Compare the plan with the JS pipeline over `raw`: JS first (fills the memos, as the reader's miss path does),
 * then every record rendered natively on its own: each must print what JS printed for it (nothing when the filter
 * drops it), or miss. Returns the number of misses.
 */
function compare(w: World, np: NativePlan, pred: Predicate | undefined, line: (b: Batch, i: number) => string, raw: Buffer, count: number, what: string): { misses: number; kept: number } {
  const b = batchFromRing(w.ds, Buffer.from(raw), count);
  for (const rw of w.rewriters) rw(b);
  np.fillFilter(b);
  if (pred) { const keep = evalPredicate(pred); b.retain((i) => keep(b, i)); }
  np.fill(b);
  const expected = new Map<number, string>();
  for (let k = 0; k < b.liveCount; k++) expected.set(b.live[k]!, line(b, b.live[k]!) + '\n');
  let misses = 0;
  for (let i = 0; i < count; i++) {
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, recordAt(raw, i), 1);
    if (res.missed.length) { misses++; continue; }
    assert.equal(res.out.toString('utf8'), expected.get(i) ?? '', `${what}: record ${i}`);
  }
  return { misses, kept: expected.size };
}

const RULES = [
  'proc.comm==cat', 'proc.comm!=cat', 'proc.comm>curl', 'proc.comm<=igb_storm', 'proc.comm~^c', 'proc.comm!~u',
  'proc.pid==42', 'proc.pid>=4242', 'proc.pid<0', 'proc.pid>4294967295', 'proc.pid!=99999999999', 'i8<0', 'u8>=200', 'i16==-2',
  'i32>-14', 'u64==18446744073709551615', 'u64<9', 'i64<=-1', 'flag==true', 'flag!=1', 'flag==0', 'error==ENOENT', 'error!=',
  'proc.user==alice', 'proc.user>root', 'runtime.containerName==web', 'runtime.containerName!=', 'fname~日本', 'fname==/tmp/a',
  'proc.comm==é—😀', 'proc.comm>日', 'proc.comm==bad\uFFFD', 'proc.comm==cat,proc.pid==42', 'proc.comm~^c,proc.user!=root,u8<255',
];

const EXPRS = [
  "proc.comm in ['cat', 'curl'] and proc.pid > 10",
  "proc.comm not in ['cat'] or u64 == 0",
  "not (proc.pid == 42) && flag",
  "len(proc.comm) > 3",
  "proc.comm matches '^[a-z]+$' or i64 < 0",
  "runtime.containerName in ['web', 'db'] or proc.user == 'alice'",
  "proc.pid + 1 > 43 and i32 % 2 == 1",
  "fname startsWith '/tmp' and not (fname contains 'a')",
  "let big = 4242; proc.pid >= big and i8 != -128",
  "proc.comm == 'igb_storm' and proc.uid == 0",
  "error == 'ENOENT' or error_raw == 13",
  "proc.comm >= 'd' and proc.comm < 'x'",
  "u8 > 1000 or i16 < -40000",
  "true", "false",
];

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h16-'));
  const w = makeWorld(dir);
  w.containers.set(4026532001n, container(4026532001n, 'web'));
  w.containers.set(4026532002n, container(4026532002n, 'a-container-with-a-very-long-name'));
  return { dir, w };
}

test('native filter: --filter rules keep exactly the records the JS filter keeps', () => {
  const { dir, w } = setup();
  try {
    const r = rng(11);
    const raw = randomBatch(r, 300);
    for (const rule of RULES) {
      const pred = filterPredicate(w.ds, rule)!;
      const np = compileNativePlan(jsonFields(w.ds), [pred]);
      if ('reason' in np) throw new Error(`${rule}: ${np.reason}`);
      try {
        const { misses, kept } = compare(w, np, pred, makeJsonEncoder(jsonFields(w.ds), 0), raw, 300, rule);
        assert.equal(misses, 0, `${rule}: no miss once JS filled the memos`);
        assert.ok(kept < 300 || rule.includes('!='), `${rule}: the filter drops something (${kept} kept)`);
      } finally {
        np.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native filter: -E expressions (a table and a fuzz of generated ones) keep exactly what JS keeps', () => {
  const { dir, w } = setup();
  try {
    const r = rng(12);
    const leaves = [
      () => `proc.comm ${pick(r, ['==', '!=', '<', '>=', 'matches', 'startsWith'])} '${pick(r, ['cat', 'c', 'igb', '日', 'z'])}'`,
      () => `proc.pid ${pick(r, ['==', '!=', '<', '>', '<=', '>='])} ${pick(r, ['42', '4242', '0', '-1', '4294967296', '99.5'])}`,
      () => `i64 ${pick(r, ['<', '>='])} ${pick(r, ['-1', '0', '-9223372036854775808', '9223372036854775807'])}`,
      () => `u64 ${pick(r, ['==', '>'])} ${pick(r, ['18446744073709551615', '9', '0'])}`,
      () => `flag ${pick(r, ['==', '!='])} ${pick(r, ['true', 'false'])}`,
      () => `proc.comm in [${pick(r, ["'cat'", "'cat', 'curl'", "'x'"])}]`,
      () => `proc.user ${pick(r, ['==', '!='])} '${pick(r, ['root', 'alice', ''])}'`,
      () => `runtime.containerName ${pick(r, ['==', '!=', 'contains'])} '${pick(r, ['web', '', 'long'])}'`,
      () => `len(fname) ${pick(r, ['<', '>'])} ${pick(r, ['5', '12', '30'])}`,
      () => `i8 * 2 ${pick(r, ['<', '>'])} ${pick(r, ['0', '100'])}`,
      () => `fname ${pick(r, ['startsWith', 'endsWith', 'contains', 'not contains', 'not startsWith'])} '${pick(r, ['/tmp', '/tmp/日本', 'ファイル', 'a', '', '\x1b[31m', 'red'])}'`,
    ];
    const gen = (depth: number): string => {
      if (depth > 2 || r() < 0.35) return leaves[Math.floor(r() * leaves.length)]!();
      const k = r();
      if (k < 0.2) return `not (${gen(depth + 1)})`;
      return `(${gen(depth + 1)}) ${k < 0.6 ? 'and' : 'or'} (${gen(depth + 1)})`;
    };
    const all = [...EXPRS, ...Array.from({ length: 60 }, () => gen(0))];
    const raw = randomBatch(r, 200);
    let dropped = 0;
    for (const e of all) {
      const pred = compileExpr(w.ds, e);
      const np = compileNativePlan(jsonFields(w.ds), [pred]);
      if ('reason' in np) throw new Error(`${e}: ${np.reason}`);
      try {
        const { misses, kept } = compare(w, np, pred, makeJsonEncoder(jsonFields(w.ds), 0), raw, 200, e);
        assert.equal(misses, 0, `${e}: no miss once JS filled the memos`);
        dropped += 200 - kept;
      } finally {
        np.dispose();
      }
    }
    assert.ok(dropped > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native filter: comparisons of record members need no JS at all (no miss before any memo is filled)', () => {
  const { dir, w } = setup();
  try {
    const raw = randomBatch(rng(15), 300);
    const fields = ['proc.comm', 'proc.pid', 'fname', 'u64', 'flag'].map((n) => w.ds.getField(n)!);
    const exprs = [
      "fname startsWith '/tmp' and proc.comm contains 'c' or fname endsWith 'name'",
      "proc.comm in ['cat', 'curl', 'igb_storm'] and not (proc.pid >= 4242) and u64 != 9 and flag == false",
      "fname contains '日本' or proc.comm > 'x' or proc.comm == 'bad\uFFFD'",
    ];
    for (const e of [...exprs.map((x) => compileExpr(w.ds, x)), filterPredicate(w.ds, 'proc.comm==cat,proc.pid!=42,fname>/tmp')!]) {
      const np = compileNativePlan(fields, [e]);
      if ('reason' in np) throw new Error(np.reason);
      try {
        const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 300);
        assert.deepEqual(res.missed, []);
        const b = batchFromRing(w.ds, Buffer.from(raw), 300);
        const keep = evalPredicate(e);
        b.retain((i) => keep(b, i));
        const enc = makeJsonEncoder(fields, 0);
        let text = '';
        for (let k = 0; k < b.liveCount; k++) text += enc(b, b.live[k]!) + '\n';
        assert.ok(b.liveCount > 0 && b.liveCount < 300, `${b.liveCount} kept`);
        assert.equal(res.out.toString('utf8'), text);
      } finally {
        np.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native filter: a leaf JS must answer misses until JS has, and a container change asks again', () => {
  const { dir, w } = setup();
  try {
    const raw = randomBatch(rng(13), 50);
    const pred = filterPredicate(w.ds, 'runtime.containerName==web')!;
    const np = compileNativePlan(jsonFields(w.ds), [pred]);
    if ('reason' in np) throw new Error(np.reason);
    try {
      // Nothing known yet: records whose rendering needs the container answer miss.
      assert.ok(nativeTestHooks().renderPlanRender(np.plan.handle, raw, 50).missed.length > 0);
      compare(w, np, pred, makeJsonEncoder(jsonFields(w.ds), 0), raw, 50, 'first');
      w.containers.set(4026531840n, container(4026531840n, 'web'));
      w.changed();
      assert.equal(nativeTestHooks().renderPlanRender(np.plan.handle, raw, 50).missed.length, 50, 'invalidated');
      const { misses, kept } = compare(w, np, pred, makeJsonEncoder(jsonFields(w.ds), 0), raw, 50, 'after the change');
      assert.equal(misses, 0);
      assert.ok(kept > 0);
    } finally {
      np.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native filter: in a && b the answer of b is not needed when a is false (no miss)', () => {
  const { dir, w } = setup();
  try {
    const raw = randomBatch(rng(14), 100);
    const pred = compileExpr(w.ds, "proc.pid == 123456 and runtime.containerName == 'web'");
    const np = compileNativePlan(jsonFields(w.ds), [pred]);
    if ('reason' in np) throw new Error(np.reason);
    try {
      const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 100);
      assert.deepEqual(res.missed, []);
      assert.equal(res.out.length, 0);
    } finally {
      np.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Columns over every kind, with annotations that exercise widths, alignment, ellipses and hex. */
function columns(w: World, variant: number): Column[] {
  const set = (name: string, a: Record<string, string>) => { const f = w.ds.getField(name)!; for (const [k, v] of Object.entries(a)) f.annotations.set(`columns.${k}`, v); return f; };
  const ells = ['end', 'start', 'middle', 'none'];
  const fields = [
    set('runtime.containerName', { width: String(8 + variant), ellipsis: ells[variant % 4]! }),
    set('proc.comm', { width: String(4 + variant), ellipsis: ells[(variant + 1) % 4]!, alignment: variant % 2 ? 'right' : 'left' }),
    set('proc.pid', { width: String(3 + variant), alignment: 'right' }),
    set('proc.user', { width: '6', ellipsis: ells[(variant + 2) % 4]! }),
    set('i8', { width: '2', alignment: variant % 2 ? 'left' : 'right' }), set('u8', { hex: 'true' }), set('i16', { hex: variant % 2 ? 'true' : 'false' }),
    set('i32', { width: '5', ellipsis: ells[(variant + 3) % 4]! }), set('u64', { width: '12' }), set('i64', { maxwidth: '10', width: '10', hex: 'true' }),
    set('flag', { width: '4' }), set('error', { width: '7' }),
    set('fname', variant % 2 ? { maxwidth: String(6 + variant), ellipsis: ells[variant % 4]! } : {}),
  ];
  return fields.map((f, k) => columnFor(w.ds, f, k === fields.length - 1));
}

test('native columns: rows equal columns.ts rowLine() byte for byte, wide characters included', () => {
  const { dir, w } = setup();
  try {
    const r = rng(21);
    for (let variant = 0; variant < 6; variant++) {
      const cols = columns(w, variant);
      const np = compileNativeColumns(cols);
      if ('reason' in np) throw new Error(np.reason);
      try {
        const raw = randomBatch(r, 300);
        const { misses } = compare(w, np, undefined, (b, i) => rowLine(cols, b, i), raw, 300, `variant ${variant}`);
        // Wide, emoji and combining characters render natively too (native-wide-columns.test.ts); only random comm
        // bytes that decode to a neighbour-dependent character (a soft hyphen, say) may miss.
        assert.ok(misses < 15, `variant ${variant}: ${misses} misses`);
      } finally {
        np.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native columns: ASCII, control characters, broken UTF-8 and wide characters render natively (no miss), ZWJ sequences miss', () => {
  const { dir, w } = setup();
  try {
    const cols = columns(w, 1);
    const np = compileNativeColumns(cols);
    if ('reason' in np) throw new Error(np.reason);
    try {
      const rec = (comm: Buffer, fname: Buffer): Buffer => {
        const raw = randomBatch(rng(5), 1);
        raw.fill(0, 8 + 8, 8 + 24);
        comm.copy(raw, 8 + 8, 0, 15);
        raw.fill(0, 8 + 72, 8 + 112);
        fname.copy(raw, 8 + 72, 0, 39);
        raw.writeBigUInt64LE(4026532001n, 8 + 64);
        return raw;
      };
      const cases: [Buffer, Buffer, boolean][] = [
        [Buffer.from('cat'), Buffer.from('/etc/hostname'), true],
        [Buffer.from('a\tb\x1b\x7f\x01'), Buffer.from('/tmp/\n\r'), true],
        [Buffer.from([0x61, 0xff, 0xc3, 0x62]), Buffer.from([0xe2, 0x82, 0x2f, 0xc2, 0x85]), true], // U+FFFD, C1 control
        [Buffer.from('x\u2028\u202e'), Buffer.from('/ok'), true],
        [Buffer.from('日本'), Buffer.from('/ok'), true],
        [Buffer.from('ok'), Buffer.from('/tmp/😀'), true],
        [Buffer.from('é'), Buffer.from('/ok'), true],
        [Buffer.from('ok'), Buffer.from('/tmp/👨\u200d👩'), false],
      ];
      for (const [comm, fname, native] of cases) {
        const raw = rec(comm, fname);
        const { misses } = compare(w, np, undefined, (b, i) => rowLine(cols, b, i), raw, 1, `${comm.toString('hex')}/${fname.toString('hex')}`);
        assert.equal(misses, native ? 0 : 1, `${JSON.stringify(comm.toString())} ${JSON.stringify(fname.toString())}`);
      }
    } finally {
      np.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native columns with a filter: rows of kept records only, equal to JS', () => {
  const { dir, w } = setup();
  try {
    const cols = columns(w, 2);
    const pred = compileExpr(w.ds, "proc.comm in ['cat', 'curl', 'igb_storm'] or runtime.containerName == 'web'");
    const np = compileNativeColumns(cols, [pred]);
    if ('reason' in np) throw new Error(np.reason);
    try {
      const { kept } = compare(w, np, pred, (b, i) => rowLine(cols, b, i), randomBatch(rng(22), 300), 300, 'filtered columns');
      assert.ok(kept > 0 && kept < 300);
    } finally {
      np.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native plan: timestamps in columns are native (native-timestamp-columns.test.ts); filter inputs too long to key a memo stay on the JS path with a reason', () => {
  const { dir, w } = setup();
  try {
    const ts = columnFor(w.ds, w.ds.getField('timestamp')!, true);
    const a = compileNativeColumns([ts]);
    assert.ok(!('reason' in a), JSON.stringify(a));
    a.dispose();
    // A regex on a 40-byte path is memoised per path; four fields (72 bytes) cannot key a memo.
    assert.ok(!('reason' in compileNativePlan(jsonFields(w.ds), [filterPredicate(w.ds, 'fname~^/tmp')!])));
    const b = compileNativePlan(jsonFields(w.ds), [compileExpr(w.ds, "fname + proc.comm + string(u64) + string(i64) == 'x'")]);
    assert.ok('reason' in b && /its input is 72 bytes/.test(b.reason), JSON.stringify(b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
