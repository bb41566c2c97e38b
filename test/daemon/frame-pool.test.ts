// Reader frames go back to the reader's pool once every client's write of them is done (src/service/frame-release.ts,
// native/src/reader.c frame_new): on a real trace_open storm, with one client that completes its writes at once and
// one whose writes complete 40 ms later, no client ever sees a frame's bytes change before its own write completed
// (a block handed back while the slow write was pending would be overwritten by the next frames), and every frame
// is handed back after the last write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GadgetRun } from '../../src/service/gadget-run.js';
import { OwnStorm } from '../harness/storm.js';
import { ClientStream, type EventWriter } from '../../src/service/client-stream.js';
import { EventType } from '../../src/service/consts.js';
import type { ApiGadgetEvent } from '../../src/service/proto.js';
import { PacketDecoder } from '../../src/datasource/codec.js';

/** A client's stream that says it no longer reads a payload once its write called back (as the HTTP/2 writer). */
class Checker implements EventWriter {
  readonly releasesPayloads = true;
  tables: Buffer | undefined;
  readonly frames: Buffer[] = [];
  readonly copies: Buffer[] = [];
  changed = 0;
  pending = 0;
  constructor(private readonly delayMs: number) {}
  write(ev: ApiGadgetEvent, cb?: (err?: Error | null) => void): boolean {
    if (ev.type === EventType.GadgetBatch) {
      if (this.tables === undefined) this.tables = Buffer.from(ev.payload);
      else {
        const frame = ev.payload;
        const copy = Buffer.from(frame);
        this.frames.push(frame);
        this.copies.push(copy);
        this.pending++;
        const check = () => { this.pending--; if (!frame.equals(copy)) this.changed++; cb?.(null); };
        if (this.delayMs) setTimeout(check, this.delayMs); else setImmediate(check);
        return true;
      }
    }
    if (cb) setImmediate(() => cb(null));
    return true;
  }
  end(): void { /* nothing to flush */ }
  emit(): void { /* errors are asserted through the run's outcome */ }
}

test('trace_open storm, a fast and a slow client: a frame goes back to the pool only after the slow write, and stays intact until then', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-frame-pool-'));
  const storm = new OwnStorm(dir, 'igpoolstorm');
  try {
    const run = await GadgetRun.prepare('trace_open', { 'operator.LocalManager.host': 'true', 'operator.oci.ebpf.comm': 'igpoolstorm' });
    const fast = new Checker(0);
    const slow = new Checker(40);
    run.attach(new ClientStream(fast, 1 << 30));
    run.attach(new ClientStream(slow, 1 << 30));
    const done = run.run(6000);
    await run.ctx.whenStarted;
    await storm.opens(400000);
    await done;
    while (slow.pending > 0 || fast.pending > 0) await new Promise((r) => setTimeout(r, 20));
    assert.ok(run.readerFrames > 0, 'frames came from the reader thread');
    assert.equal(fast.frames.length, slow.frames.length);
    assert.equal(fast.changed + slow.changed, 0, 'no frame changed before its write completed');
    const pooled = fast.copies.filter((c) => c.length >= 128 * 1024).length;
    assert.ok(pooled >= 3, `the storm made frames from the pool (${pooled} of ${fast.copies.length} frames >= 128 KiB)`);
    // Handed back: the reader's Buffer reads as empty from then on (its memory is the pool's again).
    const released = fast.frames.filter((f) => f.length === 0).length;
    assert.equal(released, run.readerFramesReleased, 'the released frames are the detached ones');
    assert.equal(released, run.readerFrames, 'every reader frame went back once both writes were done (the others were encoded in JS)');
    // What the clients got decodes: the copies taken when each write was queued.
    const dec = new PacketDecoder();
    dec.decode(fast.tables!);
    let records = 0;
    for (const c of slow.copies) for (const d of dec.decode(c)) records += d.batch.liveCount;
    assert.ok(records >= 100000, `${records} records arrived`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
