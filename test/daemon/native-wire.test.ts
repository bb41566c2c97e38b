// The daemon's natively written batch frames (src/service/native-wire.ts) against the JS packet encoder on real
// runs: byte for byte the same frames, decodable, and one Buffer per batch shared by every client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { GadgetRun, FORWARDER_PRIORITY } from '../../src/service/gadget-run.js';
import { ClientStream, type EventWriter } from '../../src/service/client-stream.js';
import { EventType } from '../../src/service/consts.js';
import type { ApiGadgetEvent } from '../../src/service/proto.js';
import { PacketDecoder, PacketEncoder } from '../../src/datasource/codec.js';

/** A client's gRPC stream as the run sees it: every write completes at once (a fast client). */
class Collector implements EventWriter {
  readonly batches: Buffer[] = [];
  tables: Buffer | undefined;
  write(ev: ApiGadgetEvent, cb?: () => void): boolean {
    if (ev.type === EventType.GadgetBatch) {
      if (this.tables === undefined) this.tables = ev.payload; // the field tables come first, as a GadgetBatch
      else this.batches.push(ev.payload);
    }
    if (cb) setImmediate(cb);
    return true;
  }
  end(): void { /* nothing to flush */ }
  emit(): void { /* errors are asserted through the run's outcome */ }
}

/**
 * Run `image` with two batch-form clients and a JS packet encoder subscribed right after the forwarder (the same
 * batches, in the same order): returns the clients' frames and the JS encoder's.
 */
async function runBoth(image: string, params: Record<string, string>, timeoutMs: number, during?: () => () => void): Promise<{ a: Collector; b: Collector; js: Buffer[]; run: GadgetRun }> {
  const run = await GadgetRun.prepare(image, params);
  const a = new Collector();
  const b = new Collector();
  run.attach(new ClientStream(a, 1 << 30));
  run.attach(new ClientStream(b, 1 << 30));
  const js: Buffer[] = [];
  const enc = new PacketEncoder();
  const dss = [...run.ctx.dataSources.values()];
  let tablesWritten = false;
  for (const ds of dss) {
    ds.subscribe((batch) => {
      if (!tablesWritten) { for (const d of dss) enc.encode(d.newBatch(0)); tablesWritten = true; }
      if (batch.liveCount === 0 && ds.type === 'single') return;
      js.push(enc.encode(batch));
    }, FORWARDER_PRIORITY + 1);
  }
  const stopLoad = during?.();
  try { await run.run(timeoutMs); } finally { stopLoad?.(); }
  return { a, b, js, run };
}

function assertSameFrames(got: Buffer[], want: Buffer[], what: string): void {
  assert.equal(got.length, want.length, `${what}: batch count`);
  for (let k = 0; k < want.length; k++) {
    if (!got[k]!.equals(want[k]!)) assert.fail(`${what}: batch ${k} differs (${got[k]!.length} bytes native, ${want[k]!.length} JS)`);
  }
}

/** `cat /etc/hostname` in a loop (an open per few ms) until stopped. */
function opens(): () => void {
  const p = spawn('sh', ['-c', 'while :; do cat /etc/hostname >/dev/null; sleep 0.005; done'], { stdio: 'ignore' });
  return () => { p.kill('SIGKILL'); };
}

test('trace_open --host: native batch frames are the JS encoder\'s, byte for byte; both clients get the same Buffers', async () => {
  const { a, b, js, run } = await runBoth('trace_open', { 'operator.LocalManager.host': 'true' }, 3000, opens);
  assert.deepEqual(run.nativeDataSources, ['open'], 'trace_open\'s data source is written natively');
  assert.ok(js.length > 0, 'the run produced batches');
  assertSameFrames(a.batches, js, 'client a');
  // One encoding for every client: the very same Buffer objects, in the same order.
  assert.equal(b.batches.length, a.batches.length);
  for (let k = 0; k < a.batches.length; k++) assert.ok(a.batches[k] === b.batches[k], `batch ${k} is shared`);
  // And they decode: the cat opens are there, with their container-independent enrichment and timestamps.
  const dec = new PacketDecoder();
  dec.decode(a.tables!);
  let cats = 0;
  for (const f of a.batches) {
    for (const d of dec.decode(f)) {
      const comm = d.ds.getField('proc.comm')!;
      const fname = d.ds.getField('fname')!;
      const ts = d.ds.getField('timestamp')!;
      for (let k = 0; k < d.batch.liveCount; k++) {
        const i = d.batch.live[k]!;
        if (comm.get(d.batch, i) === 'cat' && fname.get(d.batch, i) === '/etc/hostname') {
          cats++;
          assert.match(String(ts.get(d.batch, i)), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}/);
        }
      }
    }
  }
  assert.ok(cats > 0, 'the cat opens arrived');
});

test('snapshot_process: native batch frames are the JS encoder\'s, byte for byte', async () => {
  const { a, b, js, run } = await runBoth('snapshot_process', {}, 10000);
  assert.deepEqual(run.nativeDataSources, ['processes']);
  assert.ok(js.length > 0, 'the snapshot produced batches');
  assertSameFrames(a.batches, js, 'client a');
  assertSameFrames(b.batches, js, 'client b');
});

test('trace_exec --host (joined arguments, user names): native batch frames are the JS encoder\'s', async () => {
  const { a, js, run } = await runBoth('trace_exec', { 'operator.LocalManager.host': 'true' }, 3000, opens);
  assert.deepEqual(run.nativeDataSources, ['exec']);
  assert.ok(js.length > 0, 'the run produced batches');
  assertSameFrames(a.batches, js, 'client a');
});
