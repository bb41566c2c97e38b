// gadgetctl's -o json from received batch frames (FrameRenderer): the lines are the JS encoder's bytes, with the
// values' pieces (render_pieces.c: a value's text made once per distinct value, adjacent ones as one cached run,
// a column of one value handled once per frame) and without them (IG_CTL_PIECES=0), on hand-made frames whose
// values repeat, change per record, change between frames, and do not fit a slot (handed back to JS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, FieldFlag, Kind, type Batch } from '../datasource/index.js';
import { PacketDecoder, PacketEncoder, receivedLayout } from '../datasource/codec.js';
import { FrameRenderer } from './frame-render.js';
import { makeJsonEncoder, jsonFields } from '../operators/cli/json.js';

const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });

/** What each record's values are, by record number (set per frame). */
type Values = (i: number) => Record<string, unknown>;
let valuesOf: Values = () => ({});

/**
 * struct { u32 pid; char comm[16]; } plus derived values laid out as trace_open's are: an object of adjacent
 * strings and integers (k8s-like), a bool, a timestamp-like string, names between record fields.
 */
function makeDs(): DataSource {
  const ds = new DataSource('events', 'single', { annotations: { 'cli.default-output-mode': 'json' } });
  ds.staticSize = 48;
  const v = (name: string) => (_b: Batch, i: number) => valuesOf(i)[name] as never;
  const k8s = ds.addField({ name: 'k8s', kind: Kind.Invalid, flags: FieldFlag.Empty, order: -5 });
  ds.addField({ name: 'node', parent: k8s, kind: Kind.String, order: -5, storage: { type: 'derived', compute: v('node') } });
  ds.addField({ name: 'pod', parent: k8s, kind: Kind.String, order: -5, storage: { type: 'derived', compute: v('pod') } });
  ds.addField({ name: 'hostnet', parent: k8s, kind: Kind.Bool, order: -5, storage: { type: 'derived', compute: v('hostnet') } });
  ds.addField({ name: 'cpid', parent: k8s, kind: Kind.Uint32, order: -5, storage: { type: 'derived', compute: v('cpid') } });
  ds.addField({ name: 'small', parent: k8s, kind: Kind.Uint8, order: -5, storage: { type: 'derived', compute: v('small') } });
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: st(0, 4) });
  ds.addField({ name: 'ts', kind: Kind.String, storage: { type: 'derived', compute: v('ts') } });
  ds.addField({ name: 'comm', kind: Kind.CString, storage: st(4, 16) });
  ds.addField({ name: 'delta', kind: Kind.Int16, storage: { type: 'derived', compute: v('delta') } });
  ds.addField({ name: 'big', kind: Kind.Uint64, storage: { type: 'derived', compute: v('big') } });
  ds.addField({ name: 'neg', kind: Kind.Int64, storage: { type: 'derived', compute: v('neg') } });
  ds.addField({ name: 'user', kind: Kind.String, storage: { type: 'derived', compute: v('user') } });
  // a struct of a received string and seven plain members (as trace_open's ustack): a zero span bound on this side
  const stack = ds.addField({ name: 'stack', kind: Kind.Invalid, flags: FieldFlag.Empty });
  ds.addField({ name: 'syms', parent: stack, kind: Kind.String, storage: { type: 'derived', compute: v('user') } });
  for (const [k, [name, kind, offs, size]] of ([['a', Kind.Uint64, 24, 8], ['b', Kind.Uint32, 32, 4], ['c', Kind.Int32, 36, 4], ['d', Kind.Uint16, 40, 2],
    ['e', Kind.Int8, 42, 1], ['f', Kind.Bool, 43, 1], ['g', Kind.Uint8, 44, 1]] as const).entries()) {
    ds.addField({ name, parent: stack, kind, storage: st(offs, size), order: k });
  }
  return ds;
}

const BASE = { node: '', pod: '', hostnet: false, cpid: 0, small: 7, ts: '2026-12-06T19:30:35.000000001Z', delta: -3, big: 17, neg: -1, user: 'root' };

/** One frame of n records, values from `vals`. */
function frame(enc: PacketEncoder, ds: DataSource, n: number, vals: Values): Buffer {
  valuesOf = vals;
  const b = ds.newBatch(n);
  for (let i = 0; i < n; i++) {
    b.buf.writeUInt32LE(1000 + (i % 3), b.offs[i]!);
    b.buf.write(`c${i % 2}`, b.offs[i]! + 4);
    // the struct's members: all zero in most records (its cached text), not in every fifth
    if (i % 5 === 4) { b.buf.writeBigUInt64LE(2n ** 64n - 1n, b.offs[i]! + 24); b.buf.writeInt32LE(-7, b.offs[i]! + 36); b.buf[b.offs[i]! + 43] = 1; }
    if (i % 10 === 9) { b.buf.writeInt8(-128, b.offs[i]! + 42); b.buf[b.offs[i]! + 44] = 200; }
  }
  return enc.encode(b);
}

/** Every frame rendered by FrameRenderer (pieces on or off) and by the JS encoder from the decoded batch. */
function render(frames: Buffer[], pieces: boolean, delta = true): { native: string; js: string; nativeRecords: number; jsRecords: number; pieces: number; delta: boolean } {
  const dec = new PacketDecoder();
  let fr: FrameRenderer | undefined;
  let line: ((b: Batch, i: number) => string) | undefined;
  const out: Buffer[] = [];
  let js = '';
  const sink = { write: (s: string | Buffer) => { out.push(Buffer.from(s)); }, isTTY: false };
  const saved = process.env['IG_CTL_PIECES'];
  const savedDelta = process.env['IG_CTL_DELTA'];
  if (pieces) delete process.env['IG_CTL_PIECES']; else process.env['IG_CTL_PIECES'] = '0';
  if (delta) delete process.env['IG_CTL_DELTA']; else process.env['IG_CTL_DELTA'] = '0';
  try {
    for (const f of frames) {
      const got = dec.decode(f, (ds, buf, start, end, decode) => {
        if (!fr) {
          const r = FrameRenderer.create(ds, receivedLayout(ds)!, 'json', undefined, sink);
          assert.ok(r instanceof FrameRenderer, `a frame renderer (${JSON.stringify(r)})`);
          fr = r;
          line = makeJsonEncoder(jsonFields(ds), 0);
        }
        fr.renderFrame(buf, start, end, decode);
        const b = decode();
        for (let k = 0; k < b.liveCount; k++) js += line!(b, b.live[k]!) + '\n';
        return true;
      });
      assert.equal(got.length, 0);
    }
  } finally {
    if (saved === undefined) delete process.env['IG_CTL_PIECES']; else process.env['IG_CTL_PIECES'] = saved;
    if (savedDelta === undefined) delete process.env['IG_CTL_DELTA']; else process.env['IG_CTL_DELTA'] = savedDelta;
  }
  return { native: Buffer.concat(out).toString('utf8'), js, nativeRecords: fr!.nativeRecords, jsRecords: fr!.jsRecords, pieces: fr!.pieces, delta: fr!.delta };
}

function same(r: { native: string; js: string }, what: string): void {
  if (r.native === r.js) return;
  const a = r.native.split('\n');
  const b = r.js.split('\n');
  const k = a.findIndex((l, i) => l !== b[i]);
  assert.fail(`${what}: line ${k} differs:\nnative: ${JSON.stringify(a[k])}\njs:     ${JSON.stringify(b[k])}`);
}

test('received values rendered from pieces are the JS encoder\'s bytes: repeated, changing, and handed back to JS', () => {
  const ds = makeDs();
  const enc = new PacketEncoder();
  const frames = [
    // a storm: every value the same in the frame (columns of one value), the timestamp per record
    frame(enc, ds, 50, (i) => ({ ...BASE, ts: `2026-12-06T19:30:35.${String(i).padStart(9, '0')}Z` })),
    // the same constants again (pieces kept across frames), then other constants
    frame(enc, ds, 20, () => BASE),
    frame(enc, ds, 20, () => ({ ...BASE, node: 'node-1', pod: 'p "q" \\ \n\t\x01 caf\u00e9 \u5bbd \u{1f600}', hostnet: true, cpid: 4294967295, small: 255, user: 'h14c' })),
    // values that change per record or in runs, of every slot type; null and undefined strings print ""
    frame(enc, ds, 60, (i) => ({
      ...BASE, node: i % 7 < 3 ? 'a' : 'bb', pod: i % 5 === 0 ? null : i % 5 === 1 ? undefined : `pod-${i >> 3}`, hostnet: i % 4 === 0,
      cpid: i * 100003, small: i % 256, delta: i % 2 ? -32768 : 32767, big: i % 3 === 0 ? 2n ** 64n - 1n : i % 3 === 1 ? 2n ** 53n + 1n : i,
      neg: i % 2 ? -(2n ** 63n) : 2n ** 63n - 1n, user: `u${i % 2}`,
    })),
    // values no slot holds: a string of 4096 bytes, a NUL inside, a number out of its field's range, a bool
    // where a string is: those records go to JS, in order, the rest stay native
    frame(enc, ds, 30, (i) => ({
      ...BASE, pod: i === 3 ? 'x'.repeat(4096) : i === 7 ? 'nul\u0000inside' : 'p', small: i === 11 ? 300 : 1, delta: i === 13 ? 40000 : -1,
      cpid: i === 17 ? -5 : 1, user: i === 19 ? true : 'root',
    })),
    // a column of one value that no slot holds: every record to JS
    frame(enc, ds, 10, () => ({ ...BASE, small: 999 })),
    // one record (no column check), then the storm's values again
    frame(enc, ds, 1, () => ({ ...BASE, user: 'one' })),
    frame(enc, ds, 40, (i) => ({ ...BASE, ts: `t${i}` })),
  ];
  const on = render(frames, true);
  assert.equal(on.pieces, 11, 'every received value is rendered from its piece');
  assert.ok(on.delta, 'lines are made from the last line');
  same(on, 'pieces');
  const whole = render(frames, true, false);
  assert.equal(whole.delta, false);
  same(whole, 'pieces, every line rendered whole (IG_CTL_DELTA=0)');
  const off = render(frames, false);
  assert.equal(off.pieces, 0);
  same(off, 'slots (IG_CTL_PIECES=0)');
  assert.equal(on.native, off.native);
  assert.equal(on.jsRecords, 6 + 10, 'the records with values no slot holds went to JS');
  assert.equal(on.nativeRecords + on.jsRecords, 231);
  assert.equal(off.jsRecords, on.jsRecords);
  assert.match(on.native, /"pod":"p \\"q\\" \\\\ \\n\\t\\u0001 café 宽 😀"/);
  assert.match(on.native, /"big":18446744073709551615,"comm":/);
  assert.match(on.native, /"neg":-9223372036854775808,"pid":/);
  assert.match(on.native, /"stack":\{"a":0,"b":0,"c":0,"d":0,"e":0,"f":false,"g":0,"syms":"root"\}/);
  assert.match(on.native, /"stack":\{"a":18446744073709551615,"b":0,"c":-7,"d":0,"e":-128,"f":true,"g":200,"syms":"root"\}/);
});

/** One frame of n records whose record bytes are set by `rec` (pid, comm bytes, the struct's members). */
function recordFrame(enc: PacketEncoder, ds: DataSource, n: number, rec: (b: Buffer, at: number, i: number) => void, vals: Values = () => BASE): Buffer {
  valuesOf = vals;
  const b = ds.newBatch(n);
  for (let i = 0; i < n; i++) rec(b.buf, b.offs[i]!, i);
  return enc.encode(b);
}

test('a line made from the last line is the JS encoder\'s bytes whichever values change between records', () => {
  const ds = makeDs();
  const enc = new PacketEncoder();
  // comm: strings that are prefixes of each other (the compare must reach the NUL), the whole 16 bytes without a
  // NUL, escapes and non-ASCII (a sequence cut by the field's end), bytes after the NUL that change alone
  const comms = [Buffer.from('abc'), Buffer.from('ab'), Buffer.from('abcd'), Buffer.from('abc'), Buffer.from('0123456789abcdef'),
    Buffer.from('0123456789abcdeg'), Buffer.from('q"\\\n\t\x01'), Buffer.from('café 宽'), Buffer.from([0x61, 0xe5, 0xae]), Buffer.from('abc\0zz'), Buffer.from('abc\0yy'), Buffer.from('')];
  const u64 = [0n, 1n, 99999999n, 100000000n, 18446744073709551615n, 18446744073709551614n];
  const frames = [
    // every record's bytes differ from the last one's somewhere, in turn in each value
    recordFrame(enc, ds, 72, (b, at, i) => {
      b.writeUInt32LE([0, 65536, 1, 4294967295, 4294967295, 65535, 131071, 10][i % 8]!, at); // (some differ only in high bytes)
      comms[i % comms.length]!.copy(b, at + 4, 0, 16);
      if (i % 4 === 1) b.writeBigUInt64LE(u64[(i >> 2) % u64.length]!, at + 24);
      if (i % 7 === 3) { b.writeInt32LE(i % 2 ? -2147483648 : 2147483647, at + 36); b.writeInt8(-1, at + 42); }
      if (i % 9 === 5) { b[at + 43] = 1; b[at + 44] = 255; b.writeUInt16LE(65535, at + 40); b.writeUInt32LE(4294967295, at + 32); }
    }, (i) => ({ ...BASE, ts: `t${i >> 1}`, user: i % 8 < 4 ? 'root' : 'x\u00e9', small: i % 3 ? 7 : 8, node: i % 11 ? '' : 'n' })),
    // long runs of one record, then a change, across frames (the last line of one frame is the next one's base)
    recordFrame(enc, ds, 30, (b, at, i) => { b.writeUInt32LE(i < 29 ? 7 : 8, at); b.write('same', at + 4); }),
    recordFrame(enc, ds, 30, (b, at, i) => { b.writeUInt32LE(8, at); b.write(i === 0 ? 'same' : 'samf', at + 4); }),
    // a record handed to JS between two native ones (a value no slot holds): the next line's base is the one before
    recordFrame(enc, ds, 6, (b, at, i) => { b.writeUInt32LE(i, at); b.write('j', at + 4); }, (i) => ({ ...BASE, small: i === 2 ? 300 : 7 })),
  ];
  const on = render(frames, true);
  assert.ok(on.delta);
  same(on, 'lines from the last line');
  const whole = render(frames, true, false);
  same(whole, 'every line rendered whole');
  assert.equal(on.native, whole.native);
  assert.equal(on.jsRecords, 1);
  assert.match(on.native, /"comm":"0123456789abcdef"/);
  assert.match(on.native, /"comm":"ab".*\n.*"comm":"abcd"/);
  assert.match(on.native, /"pid":4294967295,/);
  assert.match(on.native, /"a":18446744073709551615,"b":0,"c":0,"d":0,"e":0,"f":false,"g":0/);
});
