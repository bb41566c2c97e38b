// Stopping a render-mode reader while its plan misses a memo must still deliver every record in the ring (Ctrl-C
// during an exec storm, where each new process is a miss). The records after a miss go to JS 32 at a time; in the
// final drain that cap ended the drain after the 32nd, and the rest of the ring was never read: a run of
// test/pipeline/native-miss-in-place lost 67 of 2,400 lines that way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, readFileSync } from 'node:fs';
import { BATCH_MEMO, BATCH_REFRESH, type ReaderOutput } from '../../src/bpf/reader.js';
import { getppidLoop, skipReason } from '../../src/bpf/testutil.js';
import { memoMissSetup } from './memo-miss-world.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';


for (const memoRequests of [false, true]) {
  test(`stop with memo misses in the ring delivers every record (memoRequests ${memoRequests})`, { skip: skipReason }, () => {
    const { obj, ds, np, enc, path, fd, close } = memoMissSetup('ig-stopdrain-');
    try {
      let out: ReaderOutput | undefined;
      const r = obj.openRingReader('events', (buf, count, kind) => {
        const b = batchFromRing(ds, buf, count);
        if (kind === BATCH_REFRESH) { np.fill(b, true); return; }
        if (kind === BATCH_MEMO) { np.fillMissed(b); return; }
        let text = '';
        for (let i = 0; i < count; i++) text += enc(b, i) + '\n';
        out!.write(Buffer.from(text));
        np.fill(b);
      }, { consumer: { plan: np.plan, outFd: fd, lingerUs: 100, memoRequests, attached: (o) => { out = o; }, outputFailed: (e, m) => assert.fail(`${e} ${m}`) } });
      // 1,000 records produced and the reader stopped without JS running in between: the thread meets the first
      // miss, hands records to JS and waits for it, and is stopped there; the final drain does the rest.
      const n = 1000;
      getppidLoop(n);
      const stats = r.stop();
      closeSync(fd);
      np.dispose();
      const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, n, `lines written (reader: ${stats.rendered ?? 0} rendered, ${stats.records} by JS)`);
      let prev = -1n;
      for (const [k, l] of lines.entries()) {
        const ts = BigInt(/"ts":(\d+)/.exec(l)![1]!);
        assert.ok(ts > prev, `line ${k} in order`);
        prev = ts;
      }
    } finally {
      close();
    }
  });
}
