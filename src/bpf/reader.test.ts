// Readers: batching, perf buffer, stop semantics, back-pressure, and process exit with live readers.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MapType } from './map.js';
import { native } from './native.js';
import { BpfObject } from './object.js';
import { forEachRecord, releaseBatch, RingReader, type RenderConsumer } from './reader.js';
import { RenderPlan } from './render-plan.js';
import { runSecondTickNow, secondTickState } from '../runtime/second-tick.js';
import { constants as fsConstants } from 'node:fs';
import {
  compileBpf, getppidLoop, orphanedPrograms, removeBuildDir, setupKernel, skipReason, u32, waitFor,
} from './testutil.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The largest timer slack among this process's threads (the reader thread sets its own; the others keep 50 us).
 * /proc/TID/timerslack_ns: the task directories have no such file. */
function timerSlackPeakNs(): number {
  let peak = 0;
  for (const t of readdirSync('/proc/self/task')) {
    try { peak = Math.max(peak, Number(readFileSync(`/proc/${t}/timerslack_ns`, 'utf8'))); } catch { /* thread gone */ }
  }
  return peak;
}

/** The reader's poll thread: the one thread whose timer slack is not the default 50 us (it sets a quarter of its
 * 1 ms linger). */
async function readerThread(): Promise<string> {
  const own = () => readdirSync('/proc/self/task').filter((t) => { try { return readFileSync(`/proc/${t}/timerslack_ns`, 'utf8').trim() !== '50000'; } catch { return false; } });
  await waitFor(() => own().length > 0); // the thread sets it first thing, after start() returned
  const tids = own();
  assert.equal(tids.length, 1, `threads with their own timer slack: ${tids.join(', ')}`);
  return tids[0]!;
}

/** A thread's voluntary context switches so far (each sleep it woke from: epoll, a linger). */
function voluntarySwitches(tid: string): number {
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${tid}/status`, 'utf8'))![1]);
}

const PYTHON = '/usr/bin/python3';

describe('readers', { skip: skipReason }, () => {
  let ringObj = '';
  let perfObj = '';
  let scratch = '';
  before(() => {
    setupKernel();
    ringObj = compileBpf('ringbuf');
    perfObj = compileBpf('perfbuf');
    scratch = mkdtempSync(join(tmpdir(), 'ig-reader-test-'));
  });
  after(async () => {
    removeBuildDir();
    rmSync(scratch, { recursive: true, force: true });
    const mine = () => orphanedPrograms(['igt_rb_', 'igt_pb_']);
    await waitFor(() => mine().length === 0, 3000, 50);
    assert.deepEqual(mine(), []);
  });

  it('small batches: every record is delivered once, in well-formed batches', async () => {
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).load();
      obj.attachAuto('igt_rb_getppid');
      let records = 0;
      let batches = 0;
      let maxLen = 0;
      const r = obj.openRingReader('events', (buf, count) => {
        batches++;
        maxLen = Math.max(maxLen, buf.length);
        let n = 0;
        forEachRecord(buf, count, (off, len, cpu) => {
          assert.equal(len, 40);
          assert.equal(cpu, 0);
          assert.equal(buf.readUInt32LE(off), process.pid);
          n++;
        });
        assert.equal(n, count);
        records += count;
      }, { maxBatchBytes: 256, maxLatencyMs: 5, lingerUs: 200, queue: 2 });
      getppidLoop(1000);
      await waitFor(() => records >= 1000);
      const st = r.stop();
      const submitted = Number(obj.map('counts').lookup(u32(0))!.readBigUInt64LE(0));
      assert.equal(records, submitted);
      assert.equal(st.records, records);
      assert.equal(st.batches, batches);
      assert.ok(maxLen <= 256, `batch of ${maxLen} bytes`);
      assert.ok(batches >= Math.ceil((1000 * 48) / 256), `${batches} batches`);
    } finally {
      obj.close();
    }
  });

  it('stop() delivers pending records synchronously and is idempotent; stats while running', async () => {
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).load();
      obj.attachAuto('igt_rb_getppid');
      let records = 0;
      // A long latency and linger: records stay in the native batch until stop().
      const r = obj.openRingReader('events', (_b, count) => (records += count), { maxLatencyMs: 60_000, lingerUs: 0 });
      assert.equal(r.running, true);
      getppidLoop(200);
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(records, 0, 'nothing flushed before the latency deadline');
      assert.equal(r.stats().records, 0);
      const st = r.stop();
      assert.equal(records, 200, 'stop() delivered everything before returning');
      assert.deepEqual(r.stop(), st);
      assert.equal(r.running, false);
      assert.equal(obj.readers.length, 0);
      assert.throws(() => r.start(), /stopped/);
    } finally {
      obj.close();
    }
  });

  it('pause(): no batch reaches JS, the ring fills and the kernel counts the drops; resume delivers the rest', async () => {
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).setMapMaxEntries('events', 16384).load();
      obj.attachAuto('igt_rb_getppid');
      let records = 0;
      let pausedInside = false;
      const r = obj.openRingReader('events', (_b, count) => {
        records += count;
        // Pausing from inside the callback stops the delivery of what is queued behind this batch.
        if (!pausedInside) { pausedInside = true; r.pause(true); }
      }, { maxBatchBytes: 1024, maxLatencyMs: 1, lingerUs: 100, queue: 2 });
      const counts = obj.map('counts');
      for (let k = 0; k < 20; k++) { getppidLoop(200); await new Promise((res) => setTimeout(res, 5)); }
      await new Promise((res) => setTimeout(res, 50));
      const whilePaused = records;
      assert.ok(whilePaused > 0 && whilePaused < 100, `${whilePaused} records reached JS while paused`);
      const dropped = Number(counts.lookup(u32(1))?.readBigUInt64LE(0) ?? 0n);
      const submitted = Number(counts.lookup(u32(0))!.readBigUInt64LE(0));
      assert.equal(submitted + dropped, 4000);
      assert.ok(dropped > 3000, `the kernel dropped ${dropped} of 4000 (16 KiB ring, paused reader)`);
      r.pause(false);
      await waitFor(() => records >= submitted, 5000);
      assert.equal(records, submitted, 'resuming delivered everything the kernel accepted');
      r.stop();
    } finally {
      obj.close();
    }
  });

  it('discard mode consumes every record without delivering any: the ring never fills', async () => {
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).setMapMaxEntries('events', 16384).load();
      obj.attachAuto('igt_rb_getppid');
      let calls = 0;
      const r = native.ringOpen(obj.mapFd('events'), () => { calls++; }, { discard: true, lingerUs: 100 });
      const counts = obj.map('counts');
      // 16 KiB holds ~340 records: 20000 only fit if the reader hands the space back between the bursts.
      for (let k = 0; k < 100; k++) { getppidLoop(200); await new Promise((res) => setTimeout(res, 5)); }
      const st = native.readerStop(r);
      assert.equal(Number(counts.lookup(u32(0))!.readBigUInt64LE(0)), 20000, 'every record was submitted');
      assert.equal(Number(counts.lookup(u32(1))?.readBigUInt64LE(0) ?? 0n), 0, 'none dropped');
      assert.equal(calls, 0);
      assert.equal(st.records, 0);
    } finally {
      obj.close();
    }
  });

  it('render mode: ring and perf readers write each record as a JSON line to the output fd, records that wrap too', async () => {
    const { DataSource, Kind } = await import('../datasource/index.js');
    const { planSpec } = await import('../operators/cli/native-plan.js');
    const plan = (fields: [string, number, number, number][]) => {
      const ds = new DataSource('t', 'single');
      for (const [name, kind, offs, size] of fields) ds.addField({ name, kind, storage: { type: 'static', offs, size } });
      return RenderPlan.compile(planSpec(ds.fields));
    };
    const readLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);
    // ring: struct event { u32 pid; u32 tid; u64 ts; u32 ppid; u32 kind; } in a 16 KiB ring (48-byte records wrap)
    const ringOut = join(scratch, 'ring.json');
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).setMapMaxEntries('events', 16384).load();
      obj.attachAuto('igt_rb_getppid');
      const fd = openSync(ringOut, 'w');
      let jsRecords = 0;
      let attached = 0;
      // The render plan as a reader consumer: the consumer names the fd and the linger.
      const consumer: RenderConsumer = {
        plan: plan([['pid', Kind.Uint32, 0, 4], ['ts', Kind.Uint64, 8, 8], ['ppid', Kind.Uint32, 16, 4]]), outFd: fd, lingerUs: 100,
        attached: () => { attached++; },
        outputFailed: (errno, message) => assert.fail(`output failed: ${errno} ${message}`),
      };
      const r = obj.openRingReader('events', (_b, n) => { jsRecords += n; }, { consumer });
      assert.equal(attached, 1, 'the consumer learns that the reader renders with its plan');
      for (let k = 0; k < 20; k++) { getppidLoop(200); await new Promise((res) => setTimeout(res, 5)); }
      const st = r.stop();
      closeSync(fd);
      const lines = readLines(ringOut);
      // On a busy machine the reader thread can fall behind and the 16 KiB ring fill: the program counts the records
      // it could not reserve (counts[1]); every other one is rendered.
      const dropped = Number(obj.map('counts').lookup(u32(1))!.readBigUInt64LE(0));
      assert.ok(lines.length >= 2000, `${lines.length} rendered, ${dropped} dropped`);
      assert.equal(lines.length + dropped, 4000);
      assert.equal(st.rendered, lines.length);
      assert.equal(jsRecords, 0, 'a plan without memos never needs JS');
      assert.ok(lines.every((l) => l['pid'] === process.pid && l['ppid'] === process.ppid));
      assert.ok(lines.every((l, i) => i === 0 || l['ts']! >= lines[i - 1]!['ts']!), 'in order');
    } finally {
      obj.close();
    }
    // perf: struct pevent { u32 pid; u32 cpu; u64 seq; }
    const perfOut = join(scratch, 'perf.json');
    const pobj = BpfObject.open(perfObj, 'perfbuf');
    try {
      pobj.setVar('target_pid', u32(process.pid)).load();
      pobj.attachAuto('igt_pb_getppid');
      const fd = openSync(perfOut, 'w');
      const r = native.perfOpen(pobj.mapFd('pevents'), 8, () => {}, { render: plan([['pid', Kind.Uint32, 0, 4], ['cpu', Kind.Uint32, 4, 4], ['seq', Kind.Uint64, 8, 8]]).handle, outFd: fd });
      getppidLoop(300);
      await new Promise((res) => setTimeout(res, 50));
      const st = native.readerStop(r);
      closeSync(fd);
      const lines = readLines(perfOut);
      assert.equal(lines.length, 300);
      assert.equal(st.rendered, 300);
      assert.equal(new Set(lines.map((l) => l['seq'])).size, 300, 'every sample once');
      assert.ok(lines.every((l) => l['pid'] === process.pid && l['cpu']! < native.numPossibleCpus()));
    } finally {
      pobj.close();
    }
  });

  it('render mode: a failed output (EPIPE: nobody reads the pipe) is reported to the consumer once', async () => {
    const { DataSource, Kind } = await import('../datasource/index.js');
    const { planSpec } = await import('../operators/cli/native-plan.js');
    const ds = new DataSource('t', 'single');
    ds.addField({ name: 'pid', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
    const fifo = join(scratch, 'out.fifo');
    spawnSync('mkfifo', [fifo]);
    // Open both ends, then close the read end: every write on the other end fails with EPIPE.
    const rd = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const wr = openSync(fifo, 'w');
    closeSync(rd);
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).load();
      obj.attachAuto('igt_rb_getppid');
      const failures: number[] = [];
      const jobsBefore = secondTickState().jobs;
      const r = obj.openRingReader('events', () => {}, {
        consumer: { plan: RenderPlan.compile(planSpec(ds.fields)), outFd: wr, attached: () => {}, outputFailed: (errno) => failures.push(errno) },
      });
      assert.equal(secondTickState().jobs, jobsBefore + 1, 'the output check is a job of the shared 1 s tick, no timer of its own');
      getppidLoop(50);
      await waitFor(() => r.stats().outputErrno !== undefined, 5000, 50);
      runSecondTickNow(); // what the tick does: the check reports the failure (the real tick may have been first)
      assert.deepEqual(failures, [32], 'EPIPE, reported by the tick');
      assert.equal(secondTickState().jobs, jobsBefore, 'once reported, the check leaves the tick');
      getppidLoop(50);
      runSecondTickNow();
      assert.deepEqual(failures, [32], 'EPIPE, reported once');
      assert.equal(r.stats().outputErrno, 32);
      r.stop();
    } finally {
      obj.close();
      closeSync(wr);
    }
  });

  it('render mode, lingerMaxUs: a steady trickle doubles the linger up to the max (few polls); a flood that fills a quarter of the ring does not', async () => {
    const { DataSource, Kind } = await import('../datasource/index.js');
    const { planSpec } = await import('../operators/cli/native-plan.js');
    const ds = new DataSource('t', 'single');
    ds.addField({ name: 'pid', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
    const out = openSync('/dev/null', 'w');
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).load(); // 256 KiB ring, 48-byte records
      obj.attachAuto('igt_rb_getppid');
      const submitted = () => Number(obj.map('counts').lookup(u32(0))!.readBigUInt64LE(0));
      const run = async (lingerMaxUs: number | undefined, produce: () => Promise<void>) => {
        const r = obj.openRingReader('events', () => {}, {
          consumer: { plan: RenderPlan.compile(planSpec(ds.fields)), outFd: out, lingerUs: 1000, lingerMaxUs, attached: () => {}, outputFailed: (e, m) => assert.fail(`${e} ${m}`) },
        });
        const before = submitted();
        // The reader thread's timer slack, sampled while the records come (it follows the linger).
        let slackPeakNs = 0;
        const sample = setInterval(() => { slackPeakNs = Math.max(slackPeakNs, timerSlackPeakNs()); }, 2);
        const tid = await readerThread();
        const switches0 = voluntarySwitches(tid);
        await produce();
        await new Promise((res) => setTimeout(res, 30));
        clearInterval(sample);
        const wakeups = voluntarySwitches(tid) - switches0;
        const st = r.stop();
        return { ...st, records: submitted() - before, slackPeakNs, wakeups };
      };
      // An exec storm's shape: 3 records every ~1 ms, far below what a linger's ring share holds.
      const trickle = async () => { for (let k = 0; k < 250; k++) { getppidLoop(3); await new Promise((res) => setTimeout(res, 1)); } };
      const grown = await run(8000, trickle);
      assert.equal(grown.rendered, grown.records);
      assert.equal(grown.lingerPeakUs, 8000, 'the linger doubled to its max while records kept coming');
      assert.equal(grown.slackPeakNs, 2_000_000, 'the timer slack followed the linger (a quarter of 8 ms)');
      assert.ok(grown.polls! * 3 < grown.records, `${grown.polls} polls for ${grown.records} records`);
      // A sparse stream (a record every ~30 ms, longer than the max linger): each record is taken when it wakes the
      // thread, before stop, and no linger follows (a linger would end empty: two wake-ups per record).
      const sparse = await run(8000, async () => { for (let k = 0; k < 20; k++) { getppidLoop(1); await new Promise((res) => setTimeout(res, 30)); } });
      assert.equal(sparse.rendered, sparse.records);
      assert.equal(sparse.polls, sparse.records, 'every record written when it came, none left for stop');
      assert.ok(sparse.lingersSkipped! * 2 >= sparse.polls!, `${sparse.lingersSkipped} lingers skipped in ${sparse.polls} polls`);
      assert.ok(sparse.wakeups < sparse.records * 1.5, `${sparse.wakeups} reader wake-ups for ${sparse.records} sparse records`);
      // A stream whose pauses are shorter than the max linger (a record every ~4 ms): an epoll wake-up keeps the
      // linger in use instead of starting over from 1 ms, so lingers take several records each.
      const paused = await run(8000, async () => { for (let k = 0; k < 60; k++) { getppidLoop(1); await new Promise((res) => setTimeout(res, 4)); } });
      assert.equal(paused.rendered, paused.records);
      assert.ok(paused.wakeups < paused.records, `${paused.wakeups} reader wake-ups for ${paused.records} records ~4 ms apart`);
      const fixed = await run(undefined, trickle);
      assert.equal(fixed.lingerPeakUs, 1000, 'without lingerMaxUs the linger stays lingerUs');
      assert.equal(fixed.lingersSkipped, 0, 'without lingerMaxUs every consume lingers');
      assert.equal(fixed.slackPeakNs, 250_000, 'a fixed 1 ms linger keeps a quarter of it as slack');
    } finally {
      obj.close();
    }
    // A flood into a 16 KiB ring: a linger's records are more than 1/16 of it (21 records) unless the producer
    // was off the CPU for the whole linger, so the linger does not double three times in a row to the max.
    const small = BpfObject.open(ringObj, 'ringbuf');
    try {
      small.setVar('target_pid', u32(process.pid)).setMapMaxEntries('events', 16384).load();
      small.attachAuto('igt_rb_getppid');
      const r = small.openRingReader('events', () => {}, {
        consumer: { plan: RenderPlan.compile(planSpec(ds.fields)), outFd: out, lingerUs: 1000, lingerMaxUs: 8000, attached: () => {}, outputFailed: (e, m) => assert.fail(`${e} ${m}`) },
      });
      const end = Date.now() + 150;
      while (Date.now() < end) getppidLoop(2000);
      const flood = r.stop();
      assert.ok(flood.polls! > 0 && flood.lingerPeakUs! < 8000, `linger up to ${flood.lingerPeakUs} us under a flood`);
    } finally {
      small.close();
      closeSync(out);
    }
  });

  it('perf buffer reader delivers samples with their CPU', async () => {
    const obj = BpfObject.open(perfObj, 'perfbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).load();
      obj.attachAuto('igt_pb_getppid');
      const seqs: bigint[] = [];
      const ncpu = native.numPossibleCpus();
      const r = obj.openPerfReader('pevents', (buf, count) => {
        forEachRecord(buf, count, (off, len, cpu) => {
          assert.ok(len >= 16, `len ${len}`);
          assert.equal(buf.readUInt32LE(off), process.pid);
          assert.equal(buf.readUInt32LE(off + 4), cpu, 'header cpu matches the sample');
          assert.ok(cpu < ncpu);
          seqs.push(buf.readBigUInt64LE(off + 8));
        });
      }, { pageCount: 8 });
      getppidLoop(300);
      assert.ok(await waitFor(() => seqs.length >= 300), `${seqs.length} samples`);
      const st = r.stop();
      assert.equal(st.lost, 0);
      assert.equal(st.records, seqs.length);
      assert.equal(new Set(seqs.map(String)).size, seqs.length, 'no duplicates');
      assert.throws(() => native.perfOpen(obj.mapFd('pevents'), 3, () => {}, {}), /power of two/);
      assert.throws(() => native.ringOpen(obj.mapFd('pevents'), () => {}, {}), /map type is 4/);
    } finally {
      obj.close();
    }
  });

  it('setMapType turns the ring buffer into a perf event array before load', () => {
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setMapType('events', MapType.PerfEventArray).setAutoload('igt_rb_getppid', false);
      const m = obj.maps().find((x) => x.name === 'events')!;
      assert.equal(m.type, MapType.PerfEventArray);
      assert.equal(m.keySize, 4);
      assert.equal(m.valueSize, 4);
      obj.load();
      const info = native.mapInfo(obj.mapFd('events'));
      assert.equal(info.type, MapType.PerfEventArray);
      assert.equal(info.maxEntries, native.numPossibleCpus());
      assert.equal(obj.programs()[0]!.fd, -1);
    } finally {
      obj.close();
    }
  });

  it('back-pressure: a blocked JS thread stalls the poll thread and the kernel ring drops, memory stays bounded', async () => {
    const child = spawn(PYTHON, ['-c', 'import os,sys\nsys.stdin.readline()\nfor _ in range(300000): os.getppid()\nprint("done", flush=True)'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(child.pid!)).setMapMaxEntries('events', 16384).load();
      obj.attachAuto('igt_rb_getppid');
      let records = 0;
      const r = obj.openRingReader('events', (_b, count) => (records += count), { maxBatchBytes: 1024, queue: 1, lingerUs: 0 });
      const exited = new Promise<void>((res) => child.on('exit', () => res()));
      const rss0 = process.memoryUsage.rss();
      child.stdin!.write('go\n');
      // Block the JS thread while the child floods the ring.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
      const rssBlocked = process.memoryUsage.rss();
      await exited;
      const counts = obj.map('counts');
      const submitted = () => Number(counts.lookup(u32(0))!.readBigUInt64LE(0));
      const dropped = Number(counts.lookup(u32(1))!.readBigUInt64LE(0));
      await waitFor(() => records >= submitted(), 5000);
      const st = r.stop();
      assert.ok(dropped > 0, 'the BPF side saw a full ring');
      assert.equal(records, submitted(), 'everything the kernel accepted reached JS');
      assert.equal(st.records, records);
      assert.equal(records + dropped, 300000);
      assert.ok(rssBlocked - rss0 < 32 << 20, `RSS grew ${(rssBlocked - rss0) >> 20} MiB while blocked`);
    } finally {
      child.kill();
      obj.close();
    }
  });

  it('a busy JS thread gets few full batches, not one per latency tick: the poll thread keeps filling while a batch waits', async () => {
    // ~3,000 records over ~600 ms (one every 0.2 ms) while JS is blocked for 400 ms; maxLatencyMs 1, queue 8.
    const child = spawn(PYTHON, ['-c', 'import os,sys,time\nsys.stdin.readline()\nfor i in range(3000):\n  os.getppid()\n  if i % 10 == 0: time.sleep(0.002)\nprint("done", flush=True)'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(child.pid!)).load();
      obj.attachAuto('igt_rb_getppid');
      const sizes: number[] = [];
      const r = obj.openRingReader('events', (_b, count) => { sizes.push(count); }, { maxLatencyMs: 1, lingerUs: 0, queue: 8 });
      const exited = new Promise<void>((res) => child.on('exit', () => res()));
      child.stdin!.write('go\n');
      await waitFor(() => sizes.length > 0, 5000, 1);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
      const before = sizes.length;
      await new Promise((res) => setTimeout(res, 100));
      const afterBlock = sizes.slice(before);
      await exited;
      const submitted = () => Number(obj.map('counts').lookup(u32(0))!.readBigUInt64LE(0));
      await waitFor(() => sizes.reduce((a, b) => a + b, 0) >= submitted(), 5000);
      r.stop();
      assert.equal(sizes.reduce((a, b) => a + b, 0), submitted(), 'every record delivered');
      assert.equal(Number(obj.map('counts').lookup(u32(1))!.readBigUInt64LE(0)), 0, 'no drops');
      // What piled up during the block comes as one large batch after at most one small one (taken before the
      // poll thread saw JS behind). Without the coalescing: 8 queued batches of ~1 ms (~5 records) first.
      const big = afterBlock.findIndex((n) => n >= 200);
      assert.ok(big >= 0 && big <= 1, `batches after the block: ${afterBlock.join(',')}`);
    } finally {
      child.kill();
      obj.close();
    }
  });

  it('batch memory is reused only once JS releases it: held batches stay intact, released ones read as empty', async () => {
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).setMapMaxEntries('events', 1 << 20).load();
      obj.attachAuto('igt_rb_getppid');
      // Full batches only (85 records of 48 bytes in 4 KiB; no latency flush): every batch is a pooled block.
      const held: { buf: Buffer; copy: Buffer }[] = [];
      const released: Buffer[] = [];
      let batches = 0;
      let records = 0;
      let lastTs = 0n;
      const r = obj.openRingReader('events', (buf, count) => {
        batches++;
        records += count;
        // Records arrive in order, each batch with its own bytes: boot timestamps only grow.
        forEachRecord(buf, count, (off) => {
          const ts = buf.readBigUInt64LE(off + 8);
          assert.ok(ts > lastTs, `timestamp went back in batch ${batches}`);
          lastTs = ts;
        });
        if (batches % 3 === 0) {
          held.push({ buf, copy: Buffer.from(buf) });
        } else {
          assert.equal(releaseBatch(buf), true);
          assert.equal(buf.length, 0, 'a released batch reads as empty');
          assert.equal(releaseBatch(buf), true, 'releasing twice is harmless');
          released.push(buf);
        }
      }, { maxBatchBytes: 4096, maxLatencyMs: 60_000, lingerUs: 0, queue: 2 });
      for (let k = 0; k < 60; k++) {
        getppidLoop(200);
        await new Promise((res) => setTimeout(res, 2));
      }
      const submitted = () => Number(obj.map('counts').lookup(u32(0))!.readBigUInt64LE(0));
      await waitFor(() => records + 85 > submitted(), 5000);
      const st = r.stop();
      assert.equal(records, submitted(), 'every record delivered');
      assert.equal(Number(obj.map('counts').lookup(u32(1))!.readBigUInt64LE(0)), 0, 'no drops');
      assert.ok(batches >= 120, `${batches} batches`);
      // Many batches went by while these were held: none of them was written over.
      for (const [i, h] of held.entries()) assert.ok(h.buf.equals(h.copy), `held batch ${i} changed`);
      assert.ok(released.every((b) => b.length === 0));
      // Released blocks were reused: the reader obtained about one block per held batch plus a few in flight.
      assert.ok(st.batchBlocks! <= held.length + 8, `${st.batchBlocks} blocks for ${batches} batches, ${held.length} held`);
      assert.equal(releaseBatch(Buffer.alloc(16)), false, 'a Buffer that is not a batch is left alone');
      assert.equal(releaseBatch(Buffer.from('x')), false);
    } finally {
      obj.close();
    }
  });

  function runChild(body: string, timeoutMs = 15000): { status: number | null; signal: string | null; stdout: string; stderr: string } {
    const file = join(scratch, `child-${Math.random().toString(36).slice(2)}.mjs`);
    const imp = (m: string) => JSON.stringify('file://' + join(here, m));
    writeFileSync(file, `
import { BpfObject } from ${imp('object.js')};
import { getppidLoop, u32 } from ${imp('testutil.js')};
const obj = BpfObject.open(${JSON.stringify(ringObj)}, 'ringbuf');
obj.setVar('target_pid', u32(process.pid)).load();
obj.attachAuto('igt_rb_getppid');
${body}
`);
    const res = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: timeoutMs });
    return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr };
  }

  it('process.exit() from inside the callback with a running reader exits cleanly', () => {
    const res = runChild(`
let n = 0;
obj.openRingReader('events', (b, count) => { n += count; if (n >= 100) { console.log('exiting', n); process.exit(0); } });
setInterval(() => getppidLoop(50), 1);
`);
    assert.equal(res.signal, null, res.stderr);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /exiting/);
  });

  it('process.exit() from a timer while the poll thread is busy and blocked exits cleanly', () => {
    const res = runChild(`
obj.openRingReader('events', () => { const end = Date.now() + 5; while (Date.now() < end); }, { queue: 1, maxBatchBytes: 256, lingerUs: 0 });
setInterval(() => getppidLoop(2000), 1);
setTimeout(() => process.exit(3), 300);
`);
    assert.equal(res.signal, null, res.stderr);
    assert.equal(res.status, 3, res.stderr);
  });

  it('a stopped reader does not keep the process alive; a running one does until stopped', () => {
    const res = runChild(`
let n = 0;
const r = obj.openRingReader('events', (b, count) => { n += count; });
getppidLoop(10);
setTimeout(() => { const st = r.stop(); obj.close(); console.log('stopped', st.records, n); }, 200);
`);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.signal, null);
    assert.match(res.stdout, /stopped 10 10/);
  });

  it('SIGTERM handled by closing the object exits cleanly', () => {
    const res = runChild(`
obj.openRingReader('events', () => {});
process.on('SIGTERM', () => { obj.close(); console.log('closed'); process.exit(0); });
setInterval(() => getppidLoop(100), 1);
setTimeout(() => process.kill(process.pid, 'SIGTERM'), 200);
`);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /closed/);
  });

  it('a reader whose callback throws surfaces the exception (and exit still works)', () => {
    const res = runChild(`
process.on('uncaughtException', (e) => { console.log('caught', e.message); process.exit(0); });
obj.openRingReader('events', () => { throw new Error('boom'); });
setInterval(() => getppidLoop(10), 1);
`);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /caught boom/);
  });

  it('RingReader works on a raw map fd', async () => {
    const obj = BpfObject.open(ringObj, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).load();
      obj.attachAuto('igt_rb_getppid');
      let n = 0;
      const r = new RingReader(obj.mapFd('events'), (_b, c) => (n += c)).start();
      getppidLoop(50);
      assert.ok(await waitFor(() => n >= 50));
      assert.equal(r.stop().records, 50);
    } finally {
      obj.close();
    }
  });
});
