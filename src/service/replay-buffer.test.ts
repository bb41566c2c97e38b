import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, Kind, Batch } from '../datasource/index.js';
import { FrameType, PacketDecoder, PacketEncoder, frameLength } from '../datasource/codec.js';
import { ReplayBuffer } from './replay-buffer.js';
import { UpstreamEncoder, upstreamLayout, valueBytes } from './upstream-wire.js';

function source(): DataSource {
  const ds = new DataSource('ev', 'single');
  ds.staticSize = 4;
  ds.addField({ name: 'n', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'label', kind: Kind.String, storage: { type: 'derived', compute: (b, i) => `n=${b.buf.readUInt32LE(b.offs[i]!)}` } });
  return ds;
}

function batchOf(ds: DataSource, values: number[]): Batch {
  const b = Batch.empty(ds, values.length);
  values.forEach((v, i) => b.buf.writeUInt32LE(v, b.offs[i]!));
  return b;
}

test('the replay buffer keeps the last N events across batches and trims the oldest batch', () => {
  const ds = source();
  const enc = new PacketEncoder();
  const t = enc.encode(ds.newBatch(0));
  const tables = t.subarray(0, frameLength(t)!);
  assert.equal(tables[3], FrameType.FieldTable);
  const rb = new ReplayBuffer(5);
  for (let k = 0; k < 4; k++) rb.push(0, enc.encode(batchOf(ds, [3 * k, 3 * k + 1, 3 * k + 2])), 3);
  assert.equal(rb.events, 6, 'whole batches are dropped only while the rest still holds 5 events');
  const out = rb.replay(tables, 1);
  assert.deepEqual(out.map((r) => r.records), [2, 3]);
  // A client that got the tables reads the replayed frames (the trimmed one re-encoded) as the same events.
  const client = new PacketDecoder();
  client.decode(tables);
  const seen: string[] = [];
  for (const r of out) for (const d of client.decode(r.frame)) for (const i of d.batch.indices()) seen.push(String(d.ds.getField('label')!.get(d.batch, i)));
  assert.deepEqual(seen, ['n=7', 'n=8', 'n=9', 'n=10', 'n=11']);
});

test('upstream payloads: static members in payload 0, other values in payloads of their own', () => {
  const ds = source();
  const l = upstreamLayout(ds);
  assert.deepEqual(l.fields.map((f) => [f.payloadIndex, f.offs, f.size]), [[0, 0, 4], [1, 0, 0]]);
  const p = new UpstreamEncoder(ds).packets(batchOf(ds, [42]));
  assert.equal(p.length, 1);
  // GadgetData{data(3): DataElement{payload(1): record, payload(1): "n=42"}}
  const rec = Buffer.from([42, 0, 0, 0]);
  const label = Buffer.from('n=42');
  const element = Buffer.concat([Buffer.from([0x0a, 4]), rec, Buffer.from([0x0a, label.length]), label]);
  assert.deepEqual(p[0], Buffer.concat([Buffer.from([0x1a, element.length]), element]));
  assert.deepEqual(valueBytes(Kind.Uint64, 2n ** 64n - 1n), Buffer.alloc(8, 0xff));
  assert.deepEqual(valueBytes(Kind.Int16, -2), Buffer.from([0xfe, 0xff]));
  assert.deepEqual(valueBytes(Kind.Bool, true), Buffer.from([1]));
  assert.deepEqual(valueBytes(Kind.String, undefined), Buffer.alloc(0));
});
