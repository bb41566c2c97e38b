// Stopping a render-mode reader while its plan misses a memo must still deliver every record in the ring (Ctrl-C
// during an exec storm, where each new process is a miss). The records after a miss go to JS 32 at a time; in the
// final drain that cap ended the drain after the 32nd, and the rest of the ring was never read: a run of
// test/pipeline/native-miss-in-place lost 67 of 2,400 lines that way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject } from '../../src/bpf/object.js';
import { BATCH_MEMO, BATCH_REFRESH, type ReaderOutput } from '../../src/bpf/reader.js';
import { compileBpf, getppidLoop, removeBuildDir, setupKernel, skipReason, u32 } from '../../src/bpf/testutil.js';
import { DataSource, Kind, type Batch } from '../../src/datasource/index.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { compileNativePlan } from '../../src/operators/cli/native-plan.js';

// ringbuf.bpf.c: struct event { u32 pid; u32 tid; u64 ts; u32 ppid; u32 kind; char comm[16]; } (40 bytes)
const SIZE = 40;
const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });

function world(): DataSource {
  const ds = new DataSource('t', 'single');
  ds.staticSize = SIZE;
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: st(0, 4) });
  const tid = ds.addField({ name: 'tid', kind: Kind.Uint32, storage: st(4, 4) });
  ds.addField({ name: 'ts', kind: Kind.Uint64, storage: st(8, 8) });
  // computed in JS from tid: a memo keyed by tid's bytes, empty until JS fills it, so every record misses first
  const label = ds.addField({ name: 'label', kind: Kind.String, storage: { type: 'derived', compute: (b: Batch, i: number) => `thread ${String(tid.get(b, i))}` } });
  label.derivation = { kind: 'computed', inputs: [tid] };
  return ds;
}

for (const memoRequests of [false, true]) {
  test(`stop with memo misses in the ring delivers every record (memoRequests ${memoRequests})`, { skip: skipReason }, () => {
    setupKernel();
    const dir = mkdtempSync(join(tmpdir(), 'ig-stopdrain-'));
    const obj = BpfObject.open(compileBpf('ringbuf'), 'ringbuf');
    try {
      const ds = world();
      const np = compileNativePlan(jsonFields(ds));
      if ('reason' in np) throw new Error(np.reason);
      const enc = makeJsonEncoder(jsonFields(ds));
      obj.setVar('target_pid', u32(process.pid)).load();
      obj.attachAuto('igt_rb_getppid');
      const path = join(dir, 'out.json');
      const fd = openSync(path, 'w');
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
      obj.close();
      removeBuildDir();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
