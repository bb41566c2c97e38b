// Under an open() storm the kernel writes only the file name and its NUL into each ring reservation: the rest of
// trace_open's fname and fpath arrays holds older records' bytes. The reader's frame writer clears them
// (wire_stream.c string tails, native-wire.ts stringTails): every record of the storm reaches the client with the
// same file name and zeros after it (but for the few records encoded in JS after a memo miss), and the frames are far smaller than with the stale bytes (IG_WIRE_TAILS=0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GadgetRun } from '../../src/service/gadget-run.js';
import { OwnStorm } from '../harness/storm.js';
import { ClientStream } from '../../src/service/client-stream.js';
import { FrameCollector } from '../harness/frames.js';
import { PacketDecoder } from '../../src/datasource/codec.js';


interface Storm { records: number; readerRecords: number; hostname: number; stale: number; bytesPerRecord: number; names: Set<string> }

async function storm(dir: string, comm: string, clear: boolean): Promise<Storm> {
  const exe = new OwnStorm(dir, comm);
  const saved = process.env.IG_WIRE_TAILS;
  process.env.IG_WIRE_TAILS = clear ? '1' : '0'; // read when the run subscribes
  try {
    const run = await GadgetRun.prepare('trace_open', { 'operator.LocalManager.host': 'true', 'operator.oci.ebpf.comm': comm });
    const c = new FrameCollector();
    run.attach(new ClientStream(c, 1 << 30));
    const done = run.run(5000);
    await run.ctx.whenStarted;
    await exe.opens(100000);
    await done;
    assert.ok(run.readerFrames > 0, 'frames came from the reader thread');
    const dec = new PacketDecoder();
    dec.decode(c.tables!);
    const out: Storm = { records: 0, readerRecords: run.readerFrameRecords, hostname: 0, stale: 0, bytesPerRecord: run.readerFrameBytes / Math.max(1, run.readerFrameRecords), names: new Set() };
    for (const frame of c.frames) {
      for (const d of dec.decode(frame)) {
        const fname = d.ds.getField('fname')!;
        const fpath = d.ds.getField('fpath')!;
        for (let k = 0; k < d.batch.liveCount; k++) {
          const i = d.batch.live[k]!;
          out.records++;
          const name = String(fname.get(d.batch, i));
          out.names.add(name);
          if (name === '/etc/hostname') out.hostname++;
          for (const f of [fname, fpath]) {
            const { offs, size } = f.storage as { offs: number; size: number };
            const bytes = d.batch.buf.subarray(d.batch.offs[i]! + offs, d.batch.offs[i]! + offs + size);
            const nul = bytes.indexOf(0);
            if (nul >= 0 && bytes.subarray(nul).some((b) => b !== 0)) { out.stale++; break; }
          }
        }
      }
    }
    return out;
  } finally {
    if (saved === undefined) delete process.env.IG_WIRE_TAILS; else process.env.IG_WIRE_TAILS = saved;
  }
}

test('trace_open storm: stale bytes after the file name are cleared on the reader thread; the names are unchanged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-string-tails-'));
  try {
    const before = await storm(dir, 'igtailsoff', false);
    const after = await storm(dir, 'igtailson', true);
    for (const s of [before, after]) {
      assert.ok(s.hostname >= 50000, `${s.hostname} opens of /etc/hostname arrived (${s.records} records)`);
      // perl's own start-up opens come first; every name is a clean path (nothing of another record in it)
      for (const n of s.names) assert.match(n, /^\/[\x21-\x7e]*$/, 'a file name');
    }
    assert.ok(before.stale > 0, 'without clearing, the storm\'s records carry older records\' bytes after the NUL (the case this covers)');
    // The few records a memo missed on (a new process: perl's start-up) are encoded in JS as they came.
    const inJs = after.records - after.readerRecords;
    assert.ok(inJs < after.records / 10, `${inJs} of ${after.records} records encoded in JS`);
    assert.ok(after.stale <= inJs, `${after.stale} records carry bytes after a NUL; ${inJs} were encoded in JS`);
    assert.ok(after.bytesPerRecord < before.bytesPerRecord * 0.7, `bytes per record ${after.bytesPerRecord.toFixed(0)} cleared, ${before.bytesPerRecord.toFixed(0)} not`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
