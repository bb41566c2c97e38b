// Timestamps (gadget_timestamp) on the reader thread: the text column (RFC 3339 with nanoseconds, local time) and
// the raw column (wall-clock ns) must be what the JS renderer prints, in columns and in JSON, at every width and
// ellipsis, in UTC and in a zone with a half-hour offset. The text of each second comes from JS (a memo keyed by
// the wall-clock second); later seconds of the same minute are derived natively.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeTestHooks } from '../harness/native-test-addon.js';
import { Batch, DataSource, Kind } from '../../src/datasource/index.js';
import { installFormatters } from '../../src/operators/formatters/operator.js';
import { bootToWallOffsetNs } from '../../src/operators/formatters/boottime.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';
import { columnFor, rowLine } from '../../src/operators/cli/columns.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { compileNativeColumns, compileNativePlan, type NativePlan } from '../../src/operators/cli/native-plan.js';
import { rng } from './fixtures.js';
import { readerBatch } from './reader-batch.js';

const SIZE = 16;

function world() {
  const ds = new DataSource('ev', 'single');
  ds.staticSize = SIZE;
  ds.addField({ name: 'timestamp_raw', kind: Kind.Uint64, tags: ['type:gadget_timestamp'], storage: { type: 'static', offs: 0, size: 8 } });
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: { type: 'static', offs: 8, size: 4 } });
  const rewriters = installFormatters(ds);
  return { ds, rewriters };
}

/** Records at boot-clock times `boots` (what the reader thread sees). */
function records(boots: bigint[]): Buffer {
  return readerBatch(SIZE, boots.length, (buf, rec, k) => {
    buf.writeBigUInt64LE(boots[k]!, rec);
    buf.writeUInt32LE(1000 + k, rec + 8);
  });
}

/**
 * JS renders `fillFrom` first (its batch is rewritten to wall clock, as the pipeline does; the plan's memos get the
 * text of those seconds), then every record of `raw` renders natively alone: each must equal JS's line or miss.
 */
function compare(ds: DataSource, rewriters: ((b: Batch) => void)[], np: NativePlan, line: (b: Batch, i: number) => string, fillFrom: Buffer, raw: Buffer, n: number, what: string): number {
  const fb = batchFromRing(ds, Buffer.from(fillFrom), fillFrom.length / (8 + SIZE));
  for (const rw of rewriters) rw(fb);
  np.fill(fb);
  const b = batchFromRing(ds, Buffer.from(raw), n);
  for (const rw of rewriters) rw(b);
  let misses = 0;
  for (let i = 0; i < n; i++) {
    const rec = raw.subarray(i * (8 + SIZE), (i + 1) * (8 + SIZE));
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, rec, 1);
    if (res.missed.length) { misses++; continue; }
    assert.equal(res.out.toString('utf8'), line(b, i) + '\n', `${what}: record ${i}`);
  }
  return misses;
}

const ELLIPSES = ['end', 'start', 'middle', 'none'];

for (const tz of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) {
  test(`native timestamp columns (TZ=${tz}): text and raw ns equal the JS renderer, ellipses and widths included`, () => {
    const saved = process.env.TZ;
    process.env.TZ = tz;
    try {
      const r = rng(16);
      const off = bootToWallOffsetNs();
      // A second that starts a minute (wall clock), so that the following seconds are derived natively.
      const minute = ((off + 10n ** 12n) / 60_000_000_000n + 1n) * 60_000_000_000n - off;
      // In time order, as a ring delivers them (a second before the last one seen is left to JS).
      const boots = Array.from({ length: 50 }, () => minute + BigInt(Math.floor(r() * 59e9))).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      boots.push(0n); // no timestamp: '' (and 0 raw)
      for (let layout = 0; layout < 24; layout++) {
        const { ds, rewriters } = world();
        const ts = ds.getField('timestamp')!;
        const raw = ds.getField('timestamp_raw')!;
        raw.setHidden(false);
        ts.annotations.set('columns.width', String([10, 20, 30, 35, 40][layout % 5]));
        ts.annotations.set('columns.ellipsis', ELLIPSES[layout % 4]!);
        if (layout % 3 === 0) ts.annotations.set('columns.maxwidth', String(12 + layout));
        if (layout % 2) ts.annotations.set('columns.alignment', 'right');
        raw.annotations.set('columns.width', String(5 + layout));
        if (layout % 4 === 1) raw.annotations.set('columns.hex', 'true');
        const cols = layout % 2
          ? [columnFor(ds, ts, false), columnFor(ds, ds.getField('pid')!, false), columnFor(ds, raw, true)]
          : [columnFor(ds, raw, false), columnFor(ds, ts, true)];
        const np = compileNativeColumns(cols);
        if ('reason' in np) throw new Error(np.reason);
        try {
          // JS has seen only the minute's first second: every other second of that minute is derived natively.
          const misses = compare(ds, rewriters, np, (b, i) => {
            const l = rowLine(cols, b, i);
            if (tz === 'Asia/Kolkata' && i === 0 && layout === 4) assert.match(l, /\+05:30/); // the zone is in effect
            return l;
          }, records([minute]), records(boots), boots.length, `layout ${layout}`);
          assert.equal(misses, 0, `layout ${layout}`);
          // A second of another minute misses until JS has rendered it.
          const later = minute + 3600n * 10n ** 9n + 7n;
          assert.equal(compare(ds, rewriters, np, (b, i) => rowLine(cols, b, i), records([0n]), records([later]), 1, 'next hour'), 1);
          assert.equal(compare(ds, rewriters, np, (b, i) => rowLine(cols, b, i), records([later]), records([later]), 1, 'next hour, filled'), 0);
        } finally {
          np.dispose();
        }
      }
      // JSON: the same records through the JSON plan (timestamp text and raw ns).
      const { ds, rewriters } = world();
      const fields = jsonFields(ds);
      const np = compileNativePlan(fields);
      if ('reason' in np) throw new Error(np.reason);
      try {
        assert.equal(compare(ds, rewriters, np, makeJsonEncoder(fields, 0), records([minute]), records(boots), boots.length, 'json'), 0);
      } finally {
        np.dispose();
      }
    } finally {
      if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
    }
  });
}
