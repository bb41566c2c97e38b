// The native frame writer's wall-clock texts (native/src/wire_batch.c): a new second of the same minute is written
// from the last second's text (its two seconds digits replaced), with no miss for JS to fill; a second of another
// minute, a text whose seconds are not where expected, or IG_WIRE_WALL_NEXT=0 still miss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireBatchWriter, WireValueKind } from './wire-batch.js';

const TAG_STRING = 9;
const MINUTE = 29_000_000n * 60n; // some minute, in seconds

/** The tagged text of `text` and where its 9 fraction digits start in it. */
function tagged(text: string): { bytes: Buffer; aux: number } {
  return { bytes: Buffer.concat([Buffer.from([TAG_STRING, text.length]), Buffer.from(text)]), aux: 2 + text.indexOf('.') + 1 };
}

/** One record per nanosecond value (a u64 at offset 0), as encode takes a batch. */
function batch(ns: bigint[]): [Buffer, Uint32Array, Uint32Array, Uint32Array, number] {
  const buf = Buffer.alloc(8 * ns.length);
  ns.forEach((v, i) => buf.writeBigUInt64LE(v, 8 * i));
  return [buf, Uint32Array.from(ns.map((_, i) => 8 * i)), Uint32Array.from(ns.map(() => 8)), Uint32Array.from(ns.map((_, i) => i)), ns.length];
}

function writer(): WireBatchWriter {
  return new WireBatchWriter({ dsId: 0, recordBytes: 8, values: [{ kind: WireValueKind.WallText, offs: 0 }] });
}

function fill(w: WireBatchWriter, sec: bigint, text: string): void {
  const [buf] = batch([sec * 1_000_000_000n]);
  const t = tagged(text);
  w.fill(0, buf, 0, t.bytes, t.aux);
}

test('wall-clock text: a later second of the same minute comes from the last text, without a miss', () => {
  const w = writer();
  fill(w, MINUTE + 30n, '2026-12-06T22:34:30.000000000+01:00');
  const out = w.encode(...batch([(MINUTE + 30n) * 1_000_000_000n + 7n, (MINUTE + 35n) * 1_000_000_000n + 123n, (MINUTE + 59n) * 1_000_000_000n + 9n]));
  assert.ok(Buffer.isBuffer(out), 'no miss');
  const text = out.toString('latin1');
  assert.ok(text.includes('22:34:30.000000007+01:00'));
  assert.ok(text.includes('22:34:35.000000123+01:00'), 'the seconds digits replaced, the rest kept');
  assert.ok(text.includes('22:34:59.000000009+01:00'));
  w.close();
});

test('wall-clock text: another minute, or seconds not before the fraction, is a miss for JS', () => {
  const w = writer();
  fill(w, MINUTE + 30n, '2026-12-06T22:34:30.000000000Z');
  assert.ok(Buffer.isBuffer(w.encode(...batch([(MINUTE + 30n) * 1_000_000_000n]))), 'the filled second (now the last one found)');
  const next = w.encode(...batch([(MINUTE + 61n) * 1_000_000_000n]));
  assert.ok(!Buffer.isBuffer(next), 'the next minute is not derived');
  const odd = writer();
  fill(odd, MINUTE + 30n, '22:34:31.000000000Z'); // its digits are not the key's second: layout unknown
  assert.ok(Buffer.isBuffer(odd.encode(...batch([(MINUTE + 30n) * 1_000_000_000n]))));
  assert.ok(!Buffer.isBuffer(odd.encode(...batch([(MINUTE + 32n) * 1_000_000_000n]))));
  w.close();
  odd.close();
});

test('wall-clock text: IG_WIRE_WALL_NEXT=0 leaves every new second to JS', () => {
  process.env.IG_WIRE_WALL_NEXT = '0';
  try {
    const w = writer();
    fill(w, MINUTE + 30n, '2026-12-06T22:34:30.000000000Z');
    assert.ok(Buffer.isBuffer(w.encode(...batch([(MINUTE + 30n) * 1_000_000_000n]))));
    assert.ok(!Buffer.isBuffer(w.encode(...batch([(MINUTE + 31n) * 1_000_000_000n]))));
    w.close();
  } finally {
    delete process.env.IG_WIRE_WALL_NEXT;
  }
});
