// Paced rings (include/gadget/buffer.h, RingReader's `paced` option): the BPF side wakes the reader only when the
// data waiting passes each 1/8 of the ring, or by its clock (10 s in this test program, so once); every other record
// comes without a wake-up. The reader must still read each one on its own clock, at once when the ring reaches a
// fill level, and all of them at stop.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BpfObject } from './object.js';
import { forEachRecord, type RingReader } from './reader.js';
import { compileBpf, getppidLoop, orphanedPrograms, removeBuildDir, setupKernel, skipReason, u32, waitFor } from './testutil.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('paced ring readers', { skip: skipReason }, () => {
  let prog = '';
  before(() => {
    setupKernel();
    prog = compileBpf('paced');
  });
  after(async () => {
    removeBuildDir();
    const mine = () => orphanedPrograms(['igt_paced_']);
    await waitFor(() => mine().length === 0, 3000, 50);
    assert.deepEqual(mine(), []);
  });

  /** Load the program with `burst` records per getppid() and read its ring with a paced reader. */
  function open(burst: number): { obj: BpfObject; reader: RingReader; seqs: number[] } {
    const obj = BpfObject.open(prog, 'paced');
    obj.setVar('target_pid', u32(process.pid)).setVar('burst', u32(burst)).load();
    obj.attachAuto('igt_paced_getppid');
    const seqs: number[] = [];
    const reader = obj.openRingReader('events', (buf, count) => {
      forEachRecord(buf, count, (off) => seqs.push(buf.readUInt32LE(off + 4)));
    }, { paced: true, maxLatencyMs: 1 });
    return { obj, reader, seqs };
  }

  it('records no wake-up announces are read on the reader\'s clock, each once, in order, while the reader runs', async () => {
    const { obj, reader, seqs } = open(1);
    try {
      // The first record wakes the reader (the clock's first wake-up); the next 9, 20 ms apart, come without one.
      for (let i = 0; i < 10; i++) { getppidLoop(1); await sleep(20); }
      const last = Date.now();
      // The stated worst case is 80 ms + 8 ms of timer slack; 2 s leaves room for a loaded machine. Without the
      // reader's clock they would wait for stop.
      assert.ok(await waitFor(() => seqs.length >= 10, 2000), `records read while running: ${seqs.length} of 10`);
      const late = Date.now() - last;
      const st = reader.stats();
      assert.deepEqual(seqs, [...Array(10).keys()]);
      assert.ok((st.pacedTimeouts ?? 0) >= 1, `consumes on the reader's clock: ${st.pacedTimeouts}`);
      assert.ok(late < 2000, `the last record came ${late} ms after it was written`);
      reader.stop();
      assert.equal(seqs.length, 10);
    } finally {
      obj.close();
    }
  });

  it('a burst that takes the ring to 1/8 wakes the reader at once, not on its clock', async () => {
    const { obj, reader, seqs } = open(8);
    try {
      getppidLoop(1); // the clock's one wake-up, and the reader's first consumes
      assert.ok(await waitFor(() => seqs.length >= 8, 3000));
      await sleep(1200); // the reader now sleeps its idle second: only a wake-up reads the next burst before it ends
      const before = reader.stats();
      for (let b = 1; b <= 5; b++) {
        getppidLoop(1); // 8 records of 1 KiB on an empty 64 KiB ring: the 8th passes 8 KiB
        assert.ok(await waitFor(() => seqs.length >= 8 * (b + 1), 3000), `burst ${b}: ${seqs.length} records`);
        await sleep(150); // the reader's 80 ms look after the wake-up finds nothing: idle again
      }
      const st = reader.stop();
      assert.deepEqual(seqs, [...Array(48).keys()]);
      assert.equal(st.pacedTimeouts, before.pacedTimeouts, 'every burst was read on a wake-up');
      assert.ok(st.polls! - before.polls! >= 5, `polls during the bursts: ${st.polls! - before.polls!}`);
    } finally {
      obj.close();
    }
  });

  it('stop() delivers the records no wake-up announced', async () => {
    const { obj, reader, seqs } = open(1);
    try {
      getppidLoop(1);
      assert.ok(await waitFor(() => seqs.length >= 1, 3000));
      await sleep(200); // past the reader's 80 ms look: it sleeps its idle second now
      getppidLoop(5);
      reader.stop();
      assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5]);
    } finally {
      obj.close();
    }
  });
});
