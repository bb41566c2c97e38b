// The reader thread's lean frame writing (native/src/wire_lean.c): records copied without their string tails' stale
// bytes (only each string and as many zeros as an earlier record's longer string needs) and values counted while
// they repeat, written into the frame when it is taken. Under a storm whose file names, errors and flags change
// from one open to the next (a long failing name, then shorter ones; read-only and appending opens), every frame the
// reader thread writes must still be the JS packet encoder's for the same records, byte for byte, and every name
// must arrive whole with zeros after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GadgetRun } from '../../src/service/gadget-run.js';
import { OwnStorm } from '../harness/storm.js';
import { ClientStream } from '../../src/service/client-stream.js';
import { PacketDecoder, PacketEncoder } from '../../src/datasource/codec.js';
import { Batch } from '../../src/datasource/index.js';
import { assertSameFrames, ttlFieldsOf, FrameCollector } from '../harness/frames.js';


test('trace_open storm with changing names, errors and flags: lean reader-thread frames are the JS encoder\'s, names whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-wire-lean-'));
  const comm = 'igwirelean';
  const exe = new OwnStorm(dir, comm);
  const missing = join(dir, 'm'.repeat(180), 'nothing-here');
  const appended = join(dir, 'out');
  const names = ['/etc/hostname', missing, '/etc/passwd', appended];
  try {
    delete process.env.IG_WIRE_LEAN; // the default: lean
    const run = await GadgetRun.prepare('trace_open', { 'operator.LocalManager.host': 'true', 'operator.oci.ebpf.comm': comm });
    const c = new FrameCollector();
    run.attach(new ClientStream(c, 1 << 30));
    const done = run.run(6000);
    await run.ctx.whenStarted;
    const script = `for (1..15000) { for my $n ("/etc/hostname", "${missing}", "/etc/passwd") { open(my $f, "<", $n) and close($f) } open(my $g, ">>", "${appended}") and close($g) }`;
    await exe.run(script);
    await done;
    assert.ok(run.readerFrames > 0, 'frames came from the reader thread');
    const dec = new PacketDecoder();
    dec.decode(c.tables!);
    const ds = run.ctx.dataSources.get('open')!;
    const enc = new PacketEncoder();
    enc.encode(ds.newBatch(0));
    const ttl = ttlFieldsOf(run);
    const seen = new Map<string, number>();
    let records = 0;
    let stale = 0;
    for (const frame of c.frames) {
      const [d] = dec.decode(frame);
      assert.ok(d, 'the frame decodes');
      const same = new Batch(ds, d.batch.buf, d.batch.offs, d.batch.lens, d.batch.count);
      same.live = d.batch.live;
      same.liveCount = d.batch.liveCount;
      // proc.exe and user names come from memos with a TTL; the getters ask again (perl's first records: its exe
      // before and after its own exec), so those fields may differ in value, nothing else.
      assertSameFrames([frame], [enc.encode(same)], `frame of ${d.batch.liveCount} records`, c.tables, ttl);
      const fname = d.ds.getField('fname')!;
      const fpath = d.ds.getField('fpath')!;
      for (let k = 0; k < d.batch.liveCount; k++) {
        const i = d.batch.live[k]!;
        records++;
        const name = String(fname.get(d.batch, i));
        seen.set(name, (seen.get(name) ?? 0) + 1);
        for (const f of [fname, fpath]) {
          const { offs, size } = f.storage as { offs: number; size: number };
          const bytes = d.batch.buf.subarray(d.batch.offs[i]! + offs, d.batch.offs[i]! + offs + size);
          const nul = bytes.indexOf(0);
          if (nul >= 0 && bytes.subarray(nul).some((b) => b !== 0)) { stale++; break; }
        }
      }
    }
    for (const n of names) assert.ok((seen.get(n) ?? 0) >= 10000, `${seen.get(n) ?? 0} opens of ${n.length > 40 ? `${n.slice(0, 40)}...` : n} arrived whole`);
    const inJs = records - run.readerFrameRecords;
    assert.ok(inJs < records / 10, `${inJs} of ${records} records encoded in JS`);
    assert.ok(stale <= inJs, `${stale} records carry bytes after a NUL; ${inJs} were encoded in JS`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
