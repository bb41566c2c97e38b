// Every official gadget's data sources through the packet codec: the context is built from the image in the local
// store (metadata and BTF, with every data operator, nothing loaded into the kernel), batches of synthetic records
// (random, zero and all-ones bytes) are encoded and decoded, and the receiving side's subscribers print the same
// JSON, pretty JSON, YAML and columns, and filter and sort the same records, as on the sending side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { prepareGadget } from '../../src/runtime/assemble.js';
import { Logger } from '../../src/gadget/logger.js';
import { defaultDataOperators } from '../../src/runtime/operators.js';
import { makeRenderer } from '../../src/operators/cli/operator.js';
import { compileFilter } from '../../src/operators/filter/parse.js';
import { compileSort } from '../../src/operators/sort/operator.js';
import { PacketDecoder, PacketEncoder, type Batch, type DataSource, type Field, Kind, baseKind, isNumericKind } from '../../src/datasource/index.js';
import { repoRoot } from '../harness/ig.js';
import { capture } from './fixtures.js';

const gadgets = readdirSync(join(repoRoot(), 'gadgets')).filter((g) => existsSync(join(repoRoot(), 'gadgets', g, 'gadget.yaml'))).sort();

/** Deterministic bytes: a different mix per record (random, zeros, all ones, small numbers). */
function fill(b: Batch, seed: number): void {
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s >> 7; };
  for (let i = 0; i < b.count; i++) {
    const o = b.offs[i]!;
    const len = b.lens[i]!;
    for (let k = 0; k < len; k++) {
      switch (i % 4) {
        case 0: b.buf[o + k] = rnd() & 0xff; break;
        case 1: b.buf[o + k] = 0; break;
        case 2: b.buf[o + k] = 0xff; break;
        default: b.buf[o + k] = k % 4 === 0 ? rnd() % 40 : (k % 8 < 4 ? 0x61 + (rnd() % 26) : 0);
      }
    }
  }
}

/** What the receiving side's subscribers make of a batch: outputs in every mode, and filter/sort results. */
function observe(ds: DataSource, b: Batch): Record<string, string> {
  const out: Record<string, string> = {};
  for (const mode of ['json', 'jsonpretty', 'yaml', 'columns']) {
    const { out: lines, sink } = capture();
    const r = makeRenderer(ds, mode, undefined, sink);
    r?.(b);
    out[mode] = lines.join('');
  }
  // A filter on the first string field and the first numeric value field, and a sort on both.
  const valueFields = ds.fields.filter((f) => !f.isEmpty && !f.unreferenced);
  const str = valueFields.find((f) => baseKind(f.kind) === Kind.String || baseKind(f.kind) === Kind.CString);
  const num = valueFields.find((f) => isNumericKind(f.kind));
  // The number threshold is the first live record's value (an integer; 1 for floats), so that the result varies.
  const threshold = (f: Field) => { const v = f.get(b, b.live[0]!); return typeof v === 'bigint' || Number.isInteger(v) ? String(v) : '1'; };
  if (b.liveCount > 0) {
    const rules = [str ? `${str.fullName}~^[a-m]` : '', num ? `${num.fullName}>=${threshold(num)}` : ''].filter(Boolean);
    for (const rule of rules) {
      const pred = compileFilter(ds, rule)!;
      out[`filter ${rule}`] = [...b.indices()].filter((i) => pred(b, i)).join(',');
    }
  }
  if (str && num) {
    const live = b.live.slice(0, b.liveCount);
    compileSort(ds, `${str.fullName},-${num.fullName}`)(b);
    out['sort'] = [...b.indices()].join(',');
    b.live.set(live);
  }
  return out;
}

for (const gadget of gadgets) {
  test(`${gadget}: every data source round-trips through the packet codec`, async () => {
    const ctx = await prepareGadget(gadget, { operators: defaultDataOperators({ sink: capture().sink }), log: new Logger(), image: { pull: 'never' } });
    assert.ok(ctx.dataSources.size > 0, `${gadget} has no data source`);
    const enc = new PacketEncoder();
    const dec = new PacketDecoder();
    let seed = 1;
    for (const ds of ctx.dataSources.values()) {
      let checkedValues = 0;
      for (const n of [0, 1, 9]) {
        const b = ds.newBatch(n);
        fill(b, seed++);
        // The receiving side only ever sees the live records, in order.
        if (n > 3) { b.retain((i) => i !== 2); b.live.subarray(0, b.liveCount).reverse(); }
        const before = observe(ds, b);
        const got = dec.decode(enc.encode(b));
        assert.equal(got.length, 1);
        const { ds: rds, batch } = got[0]!;
        assert.equal(rds.name, ds.name);
        assert.equal(batch.count, b.liveCount);
        assert.deepEqual(rds.fields.map((f) => f.fullName), ds.fields.map((f) => f.fullName));
        const after = observe(rds, batch);
        // The sender's live indices were renumbered 0..n-1 on the receiving side: compare records, not indices.
        const renumber = (s: string | undefined) => (s ?? '').split(',').filter(Boolean).map((x) => [...b.indices()].indexOf(Number(x))).join(',');
        for (const k of Object.keys(before)) {
          const want = k.startsWith('filter') || k === 'sort' ? renumber(before[k]) : before[k];
          assert.equal(after[k], want, `${gadget} ${ds.name} (${n} records): ${k} differs`);
        }
        if (n > 0) assert.ok(before['json']!.length > 2, `${gadget} ${ds.name}: json printed nothing`);
        checkedValues += [...b.indices()].length;
      }
      assert.ok(checkedValues > 0);
    }
  });
}
