// The daemon's natively written batch frames (src/service/native-wire.ts) against the JS packet encoder on real
// runs: byte for byte the same frames, decodable, and one Buffer per batch shared by every client.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { OwnCat } from '../harness/daemon.js';
import { tempDir } from '../harness/workload.js';
import { GadgetRun, FORWARDER_PRIORITY } from '../../src/service/gadget-run.js';
import { ClientStream, type EventWriter } from '../../src/service/client-stream.js';
import { EventType } from '../../src/service/consts.js';
import type { ApiGadgetEvent } from '../../src/service/proto.js';
import { PacketDecoder, PacketEncoder } from '../../src/datasource/codec.js';
import { Batch } from '../../src/datasource/index.js';
import { assertSameFrames, ttlFieldsOf, FrameCollector } from '../harness/frames.js';


/**
 * Run `image` with two batch-form clients and a JS packet encoder subscribed right after the forwarder (the same
 * batches, in the same order): returns the clients' frames and the JS encoder's.
 */
async function runBoth(image: string, params: Record<string, string>, timeoutMs: number, during?: () => () => void): Promise<{ a: FrameCollector; b: FrameCollector; js: Buffer[]; run: GadgetRun }> {
  const run = await GadgetRun.prepare(image, params);
  const a = new FrameCollector();
  const b = new FrameCollector();
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

// The cat these runs trace: a copy under a name of this file's own, opening a file of its own (the machine's other
// cats, of other sessions, neither match the filter nor count as the events asserted).
const tmp = tempDir('ig-native-wire-');
after(() => tmp.cleanup());
const cat = new OwnCat(tmp.dir, 'hnativewirecat');

/** Our cat opening its file in a loop (an open per few ms) until stopped. */
function opens(): () => void {
  const p = spawn('sh', ['-c', 'while :; do "$0" "$1" >/dev/null; sleep 0.005; done', cat.bin, cat.file], { stdio: 'ignore' });
  return () => { p.kill('SIGKILL'); };
}

// Values with a TTL (proc.exe, user names: derivations with ttlMs) are served from the memo for that long, as render
// plans do, while the JS reference calls the getter every time: on a host where other sessions' processes come and
// go, a getter may answer '' for a key the memo still knows. The byte-for-byte trace_open run therefore traces this
// test's own cats (--comm of OwnCat); trace_exec sees the whole host, and its frames must be equal but for TTL fields
// (a `#!/usr/bin/env` script keeps its pid and comm across its second exec: the memo's proc.exe is env's until the
// TTL ends, as in a render plan's lines).
test('trace_open --host --comm (our cat): native batch frames are the JS encoder\'s, byte for byte; both clients get the same Buffers', async () => {
  const { a, b, js, run } = await runBoth('trace_open', { 'operator.LocalManager.host': 'true', 'operator.oci.ebpf.comm': cat.comm }, 3000, opens);
  assert.deepEqual(run.nativeDataSources, ['open'], 'trace_open\'s data source is written natively');
  assert.ok(js.length > 0, 'the run produced batches');
  assertSameFrames(a.frames, js, 'client a', a.tables);
  // One encoding for every client: the very same Buffer objects, in the same order.
  assert.equal(b.frames.length, a.frames.length);
  for (let k = 0; k < a.frames.length; k++) assert.ok(a.frames[k] === b.frames[k], `batch ${k} is shared`);
  // And they decode: the cat opens are there, with their container-independent enrichment and timestamps.
  const dec = new PacketDecoder();
  dec.decode(a.tables!);
  let cats = 0;
  for (const f of a.frames) {
    for (const d of dec.decode(f)) {
      const comm = d.ds.getField('proc.comm')!;
      const fname = d.ds.getField('fname')!;
      const ts = d.ds.getField('timestamp')!;
      for (let k = 0; k < d.batch.liveCount; k++) {
        const i = d.batch.live[k]!;
        if (comm.get(d.batch, i) === cat.comm && fname.get(d.batch, i) === cat.file) {
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
  assertSameFrames(a.frames, js, 'client a');
  assertSameFrames(b.frames, js, 'client b');
});

test('trace_exec --host (joined arguments, user names): native batch frames are the JS encoder\'s', async () => {
  const { a, js, run } = await runBoth('trace_exec', { 'operator.LocalManager.host': 'true' }, 3000, opens);
  assert.deepEqual(run.nativeDataSources, ['exec']);
  assert.ok(js.length > 0, 'the run produced batches');
  const ttl = ttlFieldsOf(run);
  assert.ok(ttl.has('proc.exe'), 'proc.exe is a TTL field');
  assertSameFrames(a.frames, js, 'client a', a.tables, ttl);
});

/** An upstream-form client's stream: counts its per-event payloads. */
class UpstreamCollector implements EventWriter {
  payloads = 0;
  write(ev: ApiGadgetEvent, cb?: () => void): boolean {
    if (ev.type === EventType.GadgetPayload) this.payloads++;
    if (cb) setImmediate(cb);
    return true;
  }
  end(): void { /* nothing to flush */ }
  emit(): void { /* errors are asserted through the run's outcome */ }
}

// With nothing but the forwarder reading the records in JS, the tracer's reader writes the frames on its own thread
// (reader.c wire mode, wire_stream.c): the boot-to-wall clock rewrite, the records' segments and the memos' values.
// The reference is the JS packet encoder over the very records each frame carries, with the run's own data source
// (its field getters compute every value again): equal byte for byte but for the TTL fields (proc.exe of a cat
// that has exited by the time the getter runs reads '').
test('trace_open --host --comm (our cat): frames written on the reader thread are the JS encoder\'s for the same records; upstream clients get every record', async () => {
  const run = await GadgetRun.prepare('trace_open', { 'operator.LocalManager.host': 'true', 'operator.oci.ebpf.comm': cat.comm });
  const a = new FrameCollector();
  const b = new FrameCollector();
  const u = new UpstreamCollector();
  run.attach(new ClientStream(a, 1 << 30));
  run.attach(new ClientStream(b, 1 << 30));
  run.attach(new ClientStream(u, 1 << 30, 'upstream'));
  const stopLoad = opens();
  try { await run.run(3000); } finally { stopLoad(); }
  assert.deepEqual(run.nativeDataSources, ['open']);
  assert.ok(run.readerFrames > 0, 'frames came from the reader thread');
  assert.ok(a.frames.length > 0, 'the run produced batches');
  for (let k = 0; k < a.frames.length; k++) assert.ok(a.frames[k] === b.frames[k], `batch ${k} is shared`);
  const dec = new PacketDecoder();
  dec.decode(a.tables!);
  const ds = run.ctx.dataSources.get('open')!;
  const enc = new PacketEncoder();
  enc.encode(ds.newBatch(0));
  const ttl = ttlFieldsOf(run);
  let records = 0;
  let cats = 0;
  for (const frame of a.frames) {
    const [d] = dec.decode(frame);
    assert.ok(d, 'the frame decodes');
    const n = d.batch.liveCount;
    records += n;
    const same = new Batch(ds, d.batch.buf, d.batch.offs, d.batch.lens, d.batch.count);
    same.live = d.batch.live;
    same.liveCount = n;
    assertSameFrames([frame], [enc.encode(same)], `frame of ${n} records`, a.tables, ttl);
    const comm = d.ds.getField('proc.comm')!;
    const ts = d.ds.getField('timestamp')!;
    for (let k = 0; k < n; k++) {
      const i = d.batch.live[k]!;
      if (comm.get(d.batch, i) !== cat.comm) continue;
      cats++;
      // Wall clock, not boot clock: within a day of now.
      assert.ok(Math.abs(Date.parse(String(ts.get(d.batch, i))) - Date.now()) < 86400000, `timestamp ${String(ts.get(d.batch, i))} is wall-clock time`);
    }
  }
  assert.ok(cats > 0, 'the cat opens arrived');
  assert.equal(u.payloads, records, 'the upstream-form client got one payload per record');
});

// Every field travels to the client, proc.exe too: the daemon starts the exe tracker before the gadget attaches
// (as `ig run` does for the fields it shows), so a process that lives a millisecond has its executable. Without it
// the first getter call (at the first batch) would load the tracker too late and read /proc of a process gone.
test('trace_open --comm (our cat) through the daemon: short-lived processes have their proc.exe', async () => {
  const run = await GadgetRun.prepare('trace_open', { 'operator.LocalManager.host': 'true', 'operator.oci.ebpf.comm': cat.comm });
  const a = new FrameCollector();
  run.attach(new ClientStream(a, 1 << 30));
  const done = run.run(4000);
  await run.ctx.whenStarted;
  const pids = new Set<number>(); // other sessions' cats are on the host too
  for (let k = 0; k < 3; k++) {
    await new Promise<void>((resolve) => { const c = spawn(cat.bin, [cat.file], { stdio: 'ignore' }); pids.add(c.pid!); c.on('exit', () => resolve()); });
    await new Promise((r) => setTimeout(r, 200));
  }
  await done;
  const dec = new PacketDecoder();
  dec.decode(a.tables!);
  const exes: string[] = [];
  for (const f of a.frames) {
    for (const d of dec.decode(f)) {
      const fname = d.ds.getField('fname')!;
      const exe = d.ds.getField('proc.exe')!;
      const pid = d.ds.getField('proc.pid')!;
      for (let k = 0; k < d.batch.liveCount; k++) {
        const i = d.batch.live[k]!;
        if (fname.get(d.batch, i) === cat.file && pids.has(Number(pid.get(d.batch, i)))) exes.push(String(exe.get(d.batch, i)));
      }
    }
  }
  assert.equal(exes.length, 3, 'one open of its file per cat');
  for (const e of exes) assert.equal(e, cat.bin, 'proc.exe of a cat that has exited');
});
