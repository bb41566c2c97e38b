// Short-lived processes (an exec storm) must not cost a round trip through JS each: the process enricher's exe
// tracker records the executable in the kernel at exec and fork, and the native plan reads that map when its
// `proc.exe` memo misses. The lines must stay byte-identical to the JS encoder's (which reads the same map).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { nativeTestHooks } from '../harness/native-test-addon.js';
import { DataSource, FieldFlag, Kind } from '../../src/datasource/index.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { compileNativePlan, type NativePlan } from '../../src/operators/cli/native-plan.js';
import { ExeResolver, LazyExeTracker, installProcessEnricher } from '../../src/operators/process/operator.js';
import { readerBatch, staticAt as st } from './reader-batch.js';

const SIZE = 24;

function world(tracker?: LazyExeTracker): { ds: DataSource; np: NativePlan } {
  const ds = new DataSource('exec', 'single');
  ds.staticSize = SIZE;
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty, tags: ['type:gadget_process'] });
  ds.addField({ name: 'comm', parent: proc, kind: Kind.CString, storage: st(0, 16) });
  ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: st(16, 4) });
  ds.addField({ name: 'n', kind: Kind.Uint32, storage: st(20, 4) });
  assert.equal(installProcessEnricher(ds, new ExeResolver(), tracker), 1);
  const np = compileNativePlan(jsonFields(ds));
  if ('reason' in np) throw new Error(`no native plan: ${np.reason}`);
  return { ds, np };
}

function batch(recs: { pid: number; comm: string }[]): Buffer {
  return readerBatch(SIZE, recs.length, (buf, rec, k) => {
    buf.write(recs[k]!.comm, rec, 15, 'latin1');
    buf.writeUInt32LE(recs[k]!.pid, rec + 16);
    buf.writeUInt32LE(k, rec + 20);
  });
}

function jsText(ds: DataSource, raw: Buffer, count: number): string {
  const b = batchFromRing(ds, Buffer.from(raw), count);
  const enc = makeJsonEncoder(jsonFields(ds));
  let text = '';
  for (let i = 0; i < count; i++) text += enc(b, i) + '\n';
  return text;
}

test('exe tracker: 300 processes that exited long ago are rendered natively from the kernel, byte-identical to JS', () => {
  const tracker = new LazyExeTracker((e) => { throw e; });
  try {
    const { ds, np } = world(tracker);
    // started before the processes: it sees their fork and exec
    assert.ok(tracker.get(), 'tracker loaded');
    const pids: number[] = [];
    for (let k = 0; k < 300; k++) {
      const r = spawnSync('/bin/true', [], { stdio: 'ignore' });
      assert.equal(r.status, 0);
      pids.push(r.pid!);
    }
    const trueExe = realpathSync('/bin/true');
    const nodeExe = realpathSync(process.execPath);
    // after exec (comm "true"), before it (the forking thread's comm: node's main thread), and a name it never had
    const before = readComm();
    const recs = [
      ...pids.map((pid) => ({ pid, comm: 'true' })),
      ...pids.slice(0, 50).map((pid) => ({ pid, comm: before })),
      { pid: pids[0]!, comm: 'never-had-it' },
    ];
    const raw = batch(recs);
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, recs.length);
    assert.deepEqual(res.missed, [recs.length - 1], 'only the unknown command name is left to JS');
    const text = jsText(ds, raw, recs.length);
    const lines = text.split('\n');
    assert.equal(lines[0], `{"proc":{"comm":"true","pid":${pids[0]},"exe":${JSON.stringify(trueExe)}},"n":0}`);
    assert.equal(lines[300], `{"proc":{"comm":${JSON.stringify(before)},"pid":${pids[0]},"exe":${JSON.stringify(nodeExe)}},"n":300}`);
    assert.match(lines[recs.length - 1]!, /"exe":""/, 'gone and unknown to the tracker: /proc has nothing either');
    // byte-identical to JS for every record the plan rendered
    assert.equal(res.out.toString('utf8'), lines.slice(0, recs.length - 1).join('\n') + '\n');
    np.dispose();
  } finally {
    tracker.close();
  }
});

test('exe tracker: a process already running when the tracker loaded is left to JS (/proc), then served from the memo', () => {
  const child = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  const tracker = new LazyExeTracker((e) => { throw e; });
  try {
    const { ds, np } = world(tracker);
    assert.ok(tracker.get());
    const raw = batch([{ pid: child.pid!, comm: 'sleep' }]);
    let res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 1);
    assert.deepEqual(res.missed, [0], 'not recorded by the tracker: a miss');
    const b = batchFromRing(ds, Buffer.from(raw), 1);
    np.fill(b);
    res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 1);
    assert.deepEqual(res.missed, []);
    assert.equal(res.out.toString('utf8'), jsText(ds, raw, 1));
    assert.match(res.out.toString('utf8'), new RegExp(`"exe":${JSON.stringify(realpathSync('/bin/sleep'))}`));
    np.dispose();
  } finally {
    child.kill();
    tracker.close();
  }
});

test('exe tracker: without a kernel source every new process is a miss (what the source saves)', () => {
  const { np } = world(undefined);
  const pids = Array.from({ length: 20 }, () => spawnSync('/bin/true', [], { stdio: 'ignore' }).pid!);
  const raw = batch(pids.map((pid) => ({ pid, comm: 'true' })));
  assert.equal(nativeTestHooks().renderPlanRender(np.plan.handle, raw, pids.length).missed.length, pids.length);
  np.dispose();
});

/** The command name a child of this process has before it execs (the main thread's: it forks). */
function readComm(): string {
  return readFileSync(`/proc/${process.pid}/task/${process.pid}/comm`, 'utf8').trim();
}
