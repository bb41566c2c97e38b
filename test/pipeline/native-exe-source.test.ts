// Short-lived processes (an exec storm) must not cost a round trip through JS each: the process enricher's exe
// tracker records the executable in the kernel at exec and fork, and the native plan reads that map when its
// `proc.exe` memo misses. The lines must stay byte-identical to the JS encoder's (which reads the same map).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    assert.equal(lines[0], `{"n":0,"proc":{"comm":"true","exe":${JSON.stringify(trueExe)},"pid":${pids[0]}}}`);
    assert.equal(lines[300], `{"n":300,"proc":{"comm":${JSON.stringify(before)},"exe":${JSON.stringify(nodeExe)},"pid":${pids[0]}}}`);
    assert.match(lines[recs.length - 1]!, /"exe":""/, 'gone and unknown to the tracker: /proc has nothing either');
    // byte-identical to JS for every record the plan rendered
    assert.equal(res.out.toString('utf8'), lines.slice(0, recs.length - 1).join('\n') + '\n');
    np.dispose();
  } finally {
    tracker.close();
  }
});

test('exe tracker: processes running before it loaded are recorded by its start-up sweep in the kernel (no /proc read); deleted executables and other mount namespaces are left to /proc', async (tc) => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h16render-exe-'));
  const gone = join(dir, 'igsweep_gone');
  copyFileSync('/bin/sleep', gone);
  const old = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  const deleted = spawn(gone, ['30'], { stdio: 'ignore' });
  // a mount namespace of its own: its path walk and ig's readlink need not agree, so /proc answers
  const ns = spawn('unshare', ['-m', '/bin/sleep', '30'], { stdio: 'ignore' });
  const tracker = new LazyExeTracker((e) => { throw e; });
  try {
    await new Promise((r) => setTimeout(r, 300)); // the children have exec'd
    rmSync(gone);
    const { ds, np } = world(tracker);
    const t = tracker.get();
    assert.ok(t, 'tracker loaded');
    if (!t.sweep() && /iterator|iter\/task|not supported|EOPNOTSUPP|ENOTSUPP|EINVAL/i.test(t.sweepError ?? '')) {
      // A kernel that refuses task iterators (this one runs them): the sweep is optional there, older processes
      // go to /proc as before, and the other tests here cover that path.
      tc.skip(`this kernel refused the task iterator: ${t.sweepError}`);
      return;
    }
    assert.ok(t.sweep(), `the start-up sweep ran (${t.sweepError ?? ''})`);
    assert.equal(t.sweep(), true, 'once: a second call answers the first');
    const recs = [
      { pid: old.pid!, comm: 'sleep' },
      { pid: process.pid, comm: readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim() },
      { pid: deleted.pid!, comm: 'igsweep_gone' },
      { pid: ns.pid!, comm: 'sleep' },
    ];
    const raw = batch(recs);
    let res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, recs.length);
    assert.deepEqual(res.missed, [2, 3], 'the old processes are answered from the map; a deleted executable and another mount namespace miss');
    const text = jsText(ds, raw, recs.length);
    const lines = text.split('\n');
    assert.equal(res.out.toString('utf8'), lines.slice(0, 2).join('\n') + '\n', 'byte-identical to the JS encoder (/proc)');
    assert.match(lines[0]!, new RegExp(`"exe":${JSON.stringify(realpathSync('/bin/sleep'))}`));
    assert.match(lines[1]!, new RegExp(`"exe":${JSON.stringify(realpathSync(process.execPath))}`));
    assert.match(lines[2]!, / \(deleted\)"/, 'readlink marks the deleted executable');
    // the misses are served from the memo once JS filled it
    np.fill(batchFromRing(ds, Buffer.from(raw), recs.length));
    res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, recs.length);
    assert.deepEqual(res.missed, []);
    assert.equal(res.out.toString('utf8'), text);
    np.dispose();
  } finally {
    for (const c of [old, deleted, ns]) c.kill();
    tracker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exe tracker: without a kernel source every new process is a miss (what the source saves)', () => {
  const { np } = world(undefined);
  const pids = Array.from({ length: 20 }, () => spawnSync('/bin/true', [], { stdio: 'ignore' }).pid!);
  const raw = batch(pids.map((pid) => ({ pid, comm: 'true' })));
  assert.equal(nativeTestHooks().renderPlanRender(np.plan.handle, raw, pids.length).missed.length, pids.length);
  np.dispose();
});

/** Resident KiB of this process's mapped BPF maps (smaps: "anon_inode:bpf-map"). */
function mappedBpfMapsKb(): number {
  let kb = 0, inMap = false;
  for (const line of readFileSync('/proc/self/smaps', 'latin1').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inMap = line.includes('bpf-map');
    else if (inMap && line.startsWith('Rss:')) kb += Number(/(\d+) kB/.exec(line)![1]);
  }
  return kb;
}

test('exe tracker: its maps take 0.5 MiB of ig\'s resident set once mapped, not 2.06 (each path stored once, not per process)', () => {
  const tracker = new LazyExeTracker((e) => { throw e; });
  try {
    const before = mappedBpfMapsKb();
    const { np } = world(tracker); // the plan maps the tracker's arrays for its reader (every page resident at mmap)
    const kb = mappedBpfMapsKb() - before;
    console.log(`# mapped for the tracker: ${kb} KiB`);
    assert.ok(kb >= 256, `the arrays are mapped (${kb} KiB)`);
    // 4096 x 64 + 1024 x 256 bytes = 512 KiB; with a 240-byte path in each of 2 slots per process it was 2112 KiB
    assert.ok(kb <= 600, `the tracker holds ${kb} KiB of ig's memory (at most 600)`);
    np.dispose();
  } finally {
    tracker.close();
  }
});

/** FNV-1a 64 over a path's bytes, as exe_tracker.bpf.c hashes it: its index in the path table and its tag. */
function pathSlot(path: string): { idx: number; tag: number } {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(path)) h = ((h ^ BigInt(c)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return { idx: Number(h & 1023n), tag: Number((h >> 32n) | 1n) };
}

test('exe tracker: two executables whose paths hash to the same entry are both answered (the second goes next door)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-exe-paths-'));
  const tracker = new LazyExeTracker((e) => { throw e; });
  try {
    const base = realpathSync(dir);
    const { ds, np } = world(tracker);
    const t = tracker.get();
    assert.ok(t, 'tracker loaded');
    // an entry pair nobody's path is in yet (the machine's other execs fill the table too)
    const free = (idx: number) => { const k = Buffer.alloc(4); k.writeUInt32LE(idx); return t.paths.lookup(k)!.readUInt32LE(8) === 0; };
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let n = 0; !pair; n++) {
      const p = join(base, `t${n}`);
      const { idx } = pathSlot(p);
      const other = seen.get(idx);
      if (other && free(idx) && free(idx ^ 1)) pair = [other, p];
      else if (!other) seen.set(idx, p);
    }
    for (const p of pair) copyFileSync('/bin/true', p);
    const runs = pair.map((p) => spawnSync(p, [], { stdio: 'ignore' }));
    for (const r of runs) assert.equal(r.status, 0);
    const recs = runs.map((r, k) => ({ pid: r.pid!, comm: pair![k]!.slice(pair![k]!.lastIndexOf('/') + 1) }));
    const raw = batch(recs);
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, recs.length);
    assert.deepEqual(res.missed, [], 'both answered from the map');
    const out = res.out.toString('utf8');
    for (let k = 0; k < 2; k++) assert.ok(out.includes(`"exe":${JSON.stringify(pair[k])},"pid":${runs[k]!.pid}`), out);
    assert.equal(out, jsText(ds, raw, recs.length), 'the JS getter reads the same');
    np.dispose();
  } finally {
    tracker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exe tracker: three executables for one pair of path-table entries: the one that lost its entry is left to /proc, none is shown with another\'s path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-exe-paths-'));
  const tracker = new LazyExeTracker((e) => { throw e; });
  try {
    const base = realpathSync(dir);
    // three names whose paths hash to the same pair of entries (idx and idx ^ 1): a few thousand tries at most
    const seen = new Map<number, string[]>();
    let three: string[] | undefined;
    for (let n = 0; !three; n++) {
      const p = join(base, `t${n}`);
      const pair = pathSlot(p).idx >> 1;
      const list = seen.get(pair) ?? [];
      list.push(p);
      seen.set(pair, list);
      if (list.length === 3) three = list;
    }
    for (const p of three) copyFileSync('/bin/true', p);
    const { ds, np } = world(tracker);
    assert.ok(tracker.get(), 'tracker loaded');
    const runs = three.map((p) => spawnSync(p, [], { stdio: 'ignore' })); // the third takes one of the two entries
    const c = spawnSync('/bin/true', [], { stdio: 'ignore' });
    for (const r of runs) assert.equal(r.status, 0);
    const commOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);
    const recs = [...runs.map((r, k) => ({ pid: r.pid!, comm: commOf(three![k]!) })), { pid: c.pid!, comm: 'true' }];
    const raw = batch(recs);
    const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, recs.length);
    const out = res.out.toString('utf8');
    for (let k = 0; k < 3; k++) {
      for (let o = 0; o < 3; o++) {
        if (o !== k) assert.ok(!out.includes(`"exe":${JSON.stringify(three[o])},"pid":${runs[k]!.pid}`), `${k} is never shown with ${o}'s path`);
      }
    }
    assert.ok(out.includes(`"exe":${JSON.stringify(three[2])},"pid":${runs[2]!.pid}`), `the last one is answered from the map: ${out}`);
    assert.ok(out.includes(`"exe":${JSON.stringify(realpathSync('/bin/true'))},"pid":${c.pid}`), 'another executable is unaffected');
    assert.ok(res.missed.includes(0) || res.missed.includes(1), `one of the first two lost its entry (missed: ${res.missed.join(',')})`);
    // the JS getter reads the same maps: a missed one is gone from /proc and from the map, so its exe is empty
    const lines = jsText(ds, raw, recs.length).split('\n');
    for (const k of res.missed) assert.match(lines[k]!, /"exe":""/);
    assert.equal(res.out.toString('utf8'), lines.slice(0, recs.length).filter((_, k) => !res.missed.includes(k)).join('\n') + '\n');
    np.dispose();
  } finally {
    tracker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The command name a child of this process has before it execs (the main thread's: it forks). */
function readComm(): string {
  return readFileSync(`/proc/${process.pid}/task/${process.pid}/comm`, 'utf8').trim();
}
