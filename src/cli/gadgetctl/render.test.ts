// gadgetctl's output when the field tables of a run arrive one after the other (a data source announced after the
// first batches): the output is rebuilt for all data sources, and every received record is printed once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, Kind, type Batch } from '../../datasource/index.js';
import { PacketDecoder, PacketEncoder } from '../../datasource/codec.js';
import { Logger } from '../../gadget/logger.js';
import type { ApiGadgetInfo } from '../../service/proto.js';
import type { Sink } from '../../operators/cli/operator.js';
import { RemoteRenderer } from './render.js';

/** struct { u32 pid; u32 seq; } */
function makeDs(name: string): DataSource {
  const ds = new DataSource(name, 'single');
  ds.staticSize = 8;
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'seq', kind: Kind.Uint32, storage: { type: 'static', offs: 4, size: 4 } });
  return ds;
}

function batchOf(ds: DataSource, pids: number[]): Batch {
  const b = ds.newBatch(pids.length);
  pids.forEach((p, i) => { b.buf.writeUInt32LE(p, b.offs[i]!); b.buf.writeUInt32LE(i, b.offs[i]! + 4); });
  return b;
}

const INFO: ApiGadgetInfo = { name: 'two-tables', imageName: 'two-tables', dataSources: [], annotations: {}, metadata: Buffer.alloc(0), params: [], id: '', extraInfo: null };

/**
 * A renderer fed as gadgetctl's stream feeds it: a new field table rebuilds the output for every data source
 * announced so far, then the batches are rendered. Two data sources, a and b; `lines` collects what was printed.
 */
function twoTableStream(output: string, native: boolean) {
  const lines: string[] = [];
  const sink: Sink = { write: (s) => { lines.push(...String(s).split('\n').filter(Boolean)); }, isTTY: false };
  const r = new RemoteRenderer(new Map([['operator.cli.output', output]]), new Logger('warn'), sink, native);
  const enc = new PacketEncoder();
  const a = makeDs('a');
  const b = makeDs('b');
  const received = new Map<string, DataSource>();
  let fresh = false;
  const dec = new PacketDecoder({ onDataSource: (ds) => { received.set(ds.name, ds); fresh = true; } });
  const deliver = async (payload: Buffer) => {
    const out = dec.decode(payload, (ds, frame, start, end, decode) => !fresh && r.onFrame(ds, frame, start, end, decode));
    if (fresh) { fresh = false; await r.setup(INFO, [...received.values()]); }
    for (const d of out) r.onBatch(d.ds, d.batch);
  };
  return { lines, r, enc, a, b, deliver };
}

for (const native of [true, false]) {
  test(`a field table that arrives later does not print earlier data sources' records twice (native ${native})`, async () => {
    const { lines, r, enc, a, b, deliver } = twoTableStream('json', native);
    await deliver(enc.encode(batchOf(a, [1, 2])));
    await deliver(enc.encode(batchOf(b, [10])));
    await deliver(enc.encode(batchOf(a, [3])));
    await deliver(enc.encode(batchOf(b, [11])));
    await r.stop();
    const pids = lines.map((l) => (JSON.parse(l) as { pid: number }).pid);
    assert.deepEqual(pids, [1, 2, 10, 3, 11]);
  });
}

for (const native of [true, false]) {
  test(`columns: a field table that arrives later does not print an earlier data source's header again (native ${native})`, async () => {
    const { lines, r, enc, a, b, deliver } = twoTableStream('columns', native);
    await deliver(enc.encode(batchOf(a, [1, 2])));
    await deliver(enc.encode(batchOf(a, [3])));
    await deliver(enc.encode(batchOf(b, [10])));
    await deliver(enc.encode(batchOf(a, [4])));
    await r.stop();
    const headers = lines.filter((l) => /^PID\s+SEQ\s*$/.test(l));
    // one header per data source: a's before its first rows, b's when it is announced
    assert.equal(headers.length, 2, lines.join('\n'));
    assert.equal(lines.filter((l) => /^\d+\s+\d+\s*$/.test(l)).length, 5, lines.join('\n'));
  });
}

test('-o none: batch frames nobody prints are dropped undecoded', async () => {
  const lines: string[] = [];
  const sink: Sink = { write: (s) => { lines.push(String(s)); }, isTTY: false };
  const r = new RemoteRenderer(new Map([['operator.cli.output', 'none']]), new Logger('warn'), sink);
  const a = makeDs('a');
  let decoded = 0;
  let taken = 0;
  const dec = new PacketDecoder({});
  const enc = new PacketEncoder();
  const payload = enc.encode(batchOf(a, [1, 2, 3]));
  const first = dec.decode(payload); // the table (and a first batch, decoded: the output is not set up yet)
  await r.setup(INFO, [first[0]!.ds]);
  for (let k = 0; k < 3; k++) {
    const out = dec.decode(enc.encode(batchOf(a, [4])), (ds, frame, start, end, decode) => {
      assert.equal(ds, first[0]!.ds); // the same data source: only the first payload carried its table
      const took = r.onFrame(ds, frame, start, end, () => { decoded++; return decode(); });
      if (took) taken++;
      return took;
    });
    assert.equal(out.filter((d) => d.ds.name === 'a').length, 0);
  }
  await r.stop();
  assert.equal(taken, 3);
  assert.equal(decoded, 0);
  assert.deepEqual(lines, []);
});
