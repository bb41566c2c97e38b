// The per-client queue's bound: messages in flight (upstream's `--events-buffer-length`) and bytes, not events.
// A client that stalls for a few storm frames (its start, a GC) keeps everything; one that stalls beyond the
// budget loses counted events and hears how many once it reads again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ClientStream, DEFAULT_CLIENT_BYTES, type EventWriter } from './client-stream.js';
import { DEFAULT_EVENT_BUFFER_LENGTH, EventType } from './consts.js';
import type { ApiGadgetEvent } from './proto.js';

/** A transport whose writes complete only when the test says so (a client that does not read meanwhile). */
class StalledWriter implements EventWriter {
  readonly releasesPayloads = true;
  readonly events: ApiGadgetEvent[] = [];
  private readonly pending: ((err?: Error | null) => void)[] = [];
  write(ev: ApiGadgetEvent, cb?: (err?: Error | null) => void): boolean {
    this.events.push(ev);
    if (cb) this.pending.push(cb);
    return true;
  }
  /** The client reads again: every write so far completes. */
  drain(): void {
    for (const cb of this.pending.splice(0)) cb(null);
  }
  end(): void { /* nothing to flush */ }
  emit(): void { /* not used */ }
}

/** A full frame of the trace_open storm: 1 MiB, ~4,700 events (docs/benchmarks.md). */
const FRAME = Buffer.alloc(1 << 20);
const FRAME_RECORDS = 4724;

function lostReported(w: StalledWriter): number {
  return w.events.filter((e) => e.type === EventType.GadgetLost).reduce((n, e) => n + Number(e.payload.readBigUInt64LE(0)), 0);
}

test('a client stalled for 20 storm frames (~94k events, ~0.4 s at 240 k opens/s) loses nothing with the default bounds', () => {
  const w = new StalledWriter();
  const c = new ClientStream(w, DEFAULT_EVENT_BUFFER_LENGTH);
  for (let i = 0; i < 20; i++) assert.equal(c.sendBatch(0, FRAME, FRAME_RECORDS), true, `frame ${i + 1} queued`);
  assert.equal(c.lostTotal, 0);
  w.drain();
  assert.equal(c.backlog, 0);
  assert.equal(c.sentTotal, 20 * FRAME_RECORDS);
  assert.equal(lostReported(w), 0);
});

test('beyond the byte budget a stalled client loses counted events and is told once it reads again', () => {
  const w = new StalledWriter();
  const c = new ClientStream(w, DEFAULT_EVENT_BUFFER_LENGTH);
  const fit = DEFAULT_CLIENT_BYTES / FRAME.length;
  for (let i = 0; i < fit; i++) assert.equal(c.sendBatch(0, FRAME, FRAME_RECORDS), true);
  assert.equal(c.sendBatch(0, FRAME, FRAME_RECORDS), false, 'the frame past the byte budget is dropped');
  assert.equal(c.sendBatch(0, FRAME, FRAME_RECORDS), false);
  assert.equal(c.lostTotal, 2 * FRAME_RECORDS);
  assert.ok(c.fill >= 1);
  w.drain();
  assert.equal(lostReported(w), 2 * FRAME_RECORDS, 'the count reached the client as soon as its writes completed');
  assert.equal(c.sendBatch(0, FRAME, FRAME_RECORDS), true, 'room again once it read');
});

test('the message bound counts messages whatever their records (upstream counts GadgetEvent messages)', () => {
  const w = new StalledWriter();
  const c = new ClientStream(w, 4);
  const small = Buffer.alloc(100);
  for (let i = 0; i < 4; i++) assert.equal(c.sendBatch(0, small, 1000), true);
  assert.equal(c.backlog, 4);
  assert.equal(c.sendBatch(0, small, 1), false, 'a fifth message in flight is over --events-buffer-length 4');
  assert.equal(c.lostTotal, 1);
  // Upstream-form packets share the bound.
  c.sendPacket(0, small, 1);
  assert.equal(c.lostTotal, 2);
  w.drain();
  assert.equal(lostReported(w), 1, 'GadgetLost counts batch-form drops (upstream-form drops show as sequence gaps)');
});

test('a message larger than the byte budget still goes to a client with nothing in flight', () => {
  const w = new StalledWriter();
  const c = new ClientStream(w, 16, 'batch', 1000);
  assert.equal(c.sendBatch(0, Buffer.alloc(5000), 10), true);
  assert.equal(c.sendBatch(0, Buffer.alloc(10), 1), false);
  w.drain();
  assert.equal(c.sendBatch(0, Buffer.alloc(10), 1), true);
});

test('IG_WIRE_BUDGET=events: the bound and the fill both count events, as before 2026-12-07 (A/B in benchmarks)', () => {
  // The switch is read once at module load: a child process loads the module with it set.
  const script = `
    import { ClientStream } from ${JSON.stringify(new URL('./client-stream.js', import.meta.url).href)};
    const c = new ClientStream({ write() { return true; }, end() {}, emit() {} }, 1000);
    const out = [c.sendBatch(0, Buffer.alloc(10), 600), c.fill, c.sendBatch(0, Buffer.alloc(10), 500), c.fill];
    console.log(JSON.stringify(out));`;
  const got = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, IG_WIRE_BUDGET: 'events' }, encoding: 'utf8',
  });
  // 600 of 1000 events in flight: 0.6 full (one message of 1000 would say 0.001); 600 + 500 is over the bound.
  assert.deepEqual(JSON.parse(got), [true, 0.6, false, 0.6]);
});
