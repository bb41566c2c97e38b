// A memo miss on the reader thread does not hand the record to JS to render (issue 16): the reader sends the
// records it missed on as a BATCH_MEMO, JS only fills the memos, and the thread renders those lines itself, in
// place (in order with the rest). Forced here by invalidating the plan's memos between bursts of real ring-buffer
// records; a memo JS does not fill (as when no fragment can stand for a key) falls back to JS rendering, still in
// order. Every line must be the JS encoder's, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, readFileSync } from 'node:fs';
import { BATCH_MEMO, BATCH_REFRESH, type ReaderOutput } from '../../src/bpf/reader.js';
import { getppidLoop, skipReason } from '../../src/bpf/testutil.js';
import { memoMissSetup, MEMO_MISS_RECORD_SIZE } from './memo-miss-world.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';


test('reader render mode: records that miss a memo are rendered on the reader thread once JS filled it, in order, byte-identical', { skip: skipReason }, async () => {
  const { obj, ds, np, enc, path, fd, close } = memoMissSetup('ig-h16render-');
  try {
    let out: ReaderOutput | undefined;
    let memoBatches = 0, memoRecords = 0, jsRecords = 0;
    const r = obj.openRingReader('events', (buf, count, kind) => {
      const b = batchFromRing(ds, buf, count);
      if (kind === BATCH_REFRESH) { np.fill(b, true); return; }
      if (kind === BATCH_MEMO) {
        memoBatches++;
        memoRecords += count;
        // every fourth request is left unanswered: those records must come back to be rendered by JS
        if (memoBatches % 4 !== 0) np.fillMissed(b);
        return;
      }
      jsRecords += count;
      let text = '';
      for (let i = 0; i < count; i++) text += enc(b, i) + '\n';
      out!.write(Buffer.from(text));
      np.fill(b);
    }, { consumer: { plan: np.plan, outFd: fd, lingerUs: 100, memoRequests: true, attached: (o) => { out = o; }, outputFailed: (e, m) => assert.fail(`${e} ${m}`) } });
    const rounds = 24, per = 100;
    for (let k = 0; k < rounds; k++) {
      getppidLoop(per);
      await new Promise((res) => setTimeout(res, 10));
      // This burst's miss must have been asked for before the memos go: on a loaded machine the reader may not
      // have read the burst within 10 ms, and two bursts would then share one request.
      for (const end = Date.now() + 10_000; memoBatches <= k && Date.now() < end;) await new Promise((res) => setTimeout(res, 5));
      np.plan.invalidate(); // the next record misses again
    }
    const stats = r.stop();
    closeSync(fd);
    np.dispose();
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    assert.equal(lines.length, rounds * per);
    // byte for byte the JS encoder's line of the same record (rebuilt from the printed values)
    const raw = Buffer.alloc((8 + MEMO_MISS_RECORD_SIZE) * lines.length);
    let prev = -1n;
    lines.forEach((l, k) => {
      const v = JSON.parse(l) as { pid: number; tid: number; ts: number; ppid: number };
      const ts = BigInt(/"ts":(\d+)/.exec(l)![1]!);
      assert.ok(ts > prev, `line ${k} in order`);
      prev = ts;
      const o = k * (8 + MEMO_MISS_RECORD_SIZE);
      raw.writeUInt32LE(MEMO_MISS_RECORD_SIZE, o);
      raw.writeUInt32LE(v.pid, o + 8);
      raw.writeUInt32LE(v.tid, o + 12);
      raw.writeBigUInt64LE(ts, o + 16);
      raw.writeUInt32LE(v.ppid, o + 24);
    });
    const jb = batchFromRing(ds, raw, lines.length);
    let want = '';
    for (let i = 0; i < lines.length; i++) want += enc(jb, i) + '\n';
    assert.equal(text, want);
    assert.match(lines[0]!, new RegExp(`"label":"thread ${process.pid} \\\\"x\\\\""`));
    // how they were rendered
    assert.ok(memoBatches >= rounds - 1, `${memoBatches} memo requests`);
    assert.ok(jsRecords >= 1 && jsRecords <= memoRecords, `unanswered requests rendered by JS: ${jsRecords} of ${memoRecords}`);
    assert.equal(stats.records, jsRecords, 'records JS rendered');
    assert.equal(stats.rendered! + jsRecords, rounds * per);
    assert.equal(stats.renderedInPlace, memoRecords - jsRecords, 'every answered request rendered on the reader thread');
  } finally {
    close();
  }
});
