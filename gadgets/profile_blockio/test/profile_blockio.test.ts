// profile_blockio: O_DIRECT I/O on a loop device made by the test; when ig stops it prints the latency histogram
// as upstream does (log2 rows with star bars), or the same histogram as structured JSON.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { makeLoopDevice, tempDir, type LoopDevice } from '../../../test/harness/workload.js';
import { ProgTap, waitOwnProgram, waitUnloaded } from '../../../test/harness/owned-progs.js';

interface Hist { unit?: string; intervals: { count: number; start: number; end: number }[] }

const tmp = tempDir('ig-profile-blockio-');
let loop: LoopDevice;
before(() => { loop = makeLoopDevice(tmp.dir, 32); });
const tap = new ProgTap();
after(() => { loop?.detach(); tmp.cleanup(); tap.cleanup(); });

const dev = () => String((loop.major << 20) | loop.minor);

async function profile(extra: string[], requests: number): Promise<{ stdout: string; stderr: string }> {
  const ig = new IgProcess(['run', 'profile_blockio', '--dev', dev(), ...extra], tap.env);
  await waitOwnProgram(ig.pid, 'ig_profio_done');
  const r = spawnSync('dd', ['if=/dev/zero', `of=${loop.path}`, 'bs=64k', `count=${requests}`, 'oflag=direct', 'status=none']);
  assert.equal(r.status, 0, String(r.stderr));
  await new Promise((res) => setTimeout(res, 300));
  const res = await ig.stop('SIGINT');
  assert.equal(res.code, 0, res.stderr);
  return res;
}

test('columns: the histogram is printed once, at the end, with upstream\'s layout', async () => {
  const { stdout } = await profile([], 40);
  const lines = stdout.split('\n');
  assert.equal(lines[0], 'latency', stdout);
  assert.equal(lines[1], '        µs               : count    distribution');
  const rows = lines.slice(2).filter((l) => l.includes('->'));
  assert.ok(rows.length > 0, stdout);
  let total = 0;
  let expectStart = 0;
  for (const row of rows) {
    const m = /^\s{0,10}(\d+) -> (\d+)\s* : (\d+)\s* \|([* ]{40})\|$/.exec(row);
    assert.ok(m, `row layout: ${JSON.stringify(row)}`);
    const [start, end, count] = [Number(m![1]), Number(m![2]), Number(m![3])];
    assert.equal(start, expectStart, 'log2 buckets follow each other');
    assert.equal(end, start === 0 ? 1 : 2 * start - 1);
    expectStart = end + 1;
    total += count;
    assert.equal(row.indexOf('->'), 11, 'start right-aligned in 10 columns');
  }
  assert.equal(total, 40, 'every request of dd, on this device only (--dev)');
  const max = Math.max(...rows.map((r) => Number(/: (\d+)/.exec(r)![1])));
  assert.ok(rows.some((r) => r.includes('|' + '*'.repeat(40) + '|')), 'the largest bucket has a full bar');
  assert.ok(max > 0);
  assert.equal(stdout.split('latency').length - 1, 1, 'printed once, when the gadget stops');
});

test('JSON: the histogram as {unit, intervals[{count,start,end}]}', async () => {
  const { stdout } = await profile(['-o', 'json'], 24);
  const docs = stdout.trim().split('\n').map((l) => JSON.parse(l) as { latency: Hist });
  assert.equal(docs.length, 1, stdout);
  const h = docs[0]!.latency;
  assert.equal(h.unit, 'µs');
  assert.ok(h.intervals.length > 0);
  assert.deepEqual(Object.keys(h.intervals[0]!), ['count', 'start', 'end']);
  assert.equal(h.intervals[0]!.start, 0);
  assert.equal(h.intervals.reduce((a, i) => a + i.count, 0), 24);
  assert.ok(h.intervals[h.intervals.length - 1]!.count > 0, 'intervals end at the last non-empty bucket');
});

test('--per-disk labels the histogram with the device', async () => {
  const { stdout } = await profile(['--per-disk'], 8);
  assert.match(stdout, new RegExp(`^latency \\[dev=${dev()}\\]$`, 'm'));
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
