// Snapshotters over BPF iterators: the records a real iter/task program writes become one batch of the data
// source's struct (13-byte records here, so they straddle reads); bytes that are not whole records fail the fetch in
// one line; on-demand ring samples and iterator records share one batch; section names give the target.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BpfObject } from '../../bpf/object.js';
import { compileBpf, removeBuildDir, setupKernel, skipReason } from '../../bpf/testutil.js';
import { DataSource } from '../../datasource/index.js';
import { iterTarget, snapshotBatch, takeSnapshot, type SnapshotDs } from './snapshots.js';

function snapDs(size: number, programs: string[], iters: SnapshotDs['iters']): SnapshotDs {
  const ds = new DataSource('tasks', 'array');
  ds.staticSize = size;
  return { ds, programs, iters, intervalMs: 0, count: 1, fetchOnStop: false, fetches: 0, lostSeen: 0n };
}

describe('snapshots: section names', () => {
  it('iter/<target> and iter.s/<target> are iterators, other sections are not', () => {
    assert.equal(iterTarget('iter/task'), 'task');
    assert.equal(iterTarget('iter.s/task_file'), 'task_file');
    assert.equal(iterTarget('iter/'), undefined);
    assert.equal(iterTarget('raw_tp'), undefined);
    assert.equal(iterTarget('iterx/task'), undefined);
  });
});

describe('snapshots: one batch from ring samples and iterator records', () => {
  it('ring samples first (padded to 8 in the ring), then the iterator records, each of the struct size', () => {
    const ds = new DataSource('mixed', 'array');
    ds.staticSize = 4;
    // two ring samples of 4 bytes: [len][cpu][payload padded to 8]
    const ring = Buffer.alloc(2 * 16);
    for (const [k, v] of [[0, 11], [1, 12]] as const) {
      ring.writeUInt32LE(4, k * 16);
      ring.writeUInt32LE(v, k * 16 + 8);
    }
    const fixed = [Buffer.from([21, 0, 0, 0, 22, 0, 0, 0]), Buffer.from([23, 0, 0, 0])];
    const b = snapshotBatch(ds, { buf: ring, count: 2 }, fixed, 4);
    const vals = [...Array(b.count).keys()].map((i) => b.buf.readUInt32LE(b.offs[i]!));
    assert.deepEqual(vals, [11, 12, 21, 22, 23]);
    assert.deepEqual([...b.lens], [4, 4, 4, 4, 4]);
    const only = snapshotBatch(ds, undefined, fixed, 4);
    assert.equal(only.count, 3);
    assert.equal(snapshotBatch(ds, undefined, [], 4).count, 0);
  });
});

describe('snapshots: iterator programs', { skip: skipReason }, () => {
  let path = '';
  let obj: BpfObject | undefined;
  before(() => {
    setupKernel();
    path = compileBpf('iter');
    obj = BpfObject.open(path, 'igt_iter_snap');
    for (const p of obj.programs()) obj.setAutoload(p.name, p.name === 'igt_it_task' || p.name === 'igt_it_none');
    obj.load();
  });
  after(() => {
    obj?.close();
    removeBuildDir();
  });

  it('each fetch attaches once and reads a new walk: records of 13 bytes, this process among them', () => {
    const s = snapDs(13, ['igt_it_task', 'igt_it_none'], [
      { prog: 'igt_it_task', section: 'iter/task', target: 'task' },
      { prog: 'igt_it_none', section: 'iter/task', target: 'task' },
    ]);
    for (let round = 0; round < 2; round++) {
      const { batch, dropped } = takeSnapshot(obj!, s, () => [null], 'g');
      assert.equal(dropped, 0);
      assert.ok(batch.count > 1);
      const pids = [...Array(batch.count).keys()].map((i) => batch.buf.readUInt32LE(batch.offs[i]!));
      assert.ok(pids.includes(process.pid));
    }
    assert.equal(obj!.links.length, 2, 'one link per iterator program, kept across fetches');
    for (const it of s.iters) it.link?.destroy();
  });

  it('bytes that are not whole records of the struct fail the fetch in one line naming the program', () => {
    const size = 13 * 4096; // more than any walk here writes: a remainder whatever the number of tasks
    const s = snapDs(size, ['igt_it_task'], [{ prog: 'igt_it_task', section: 'iter/task', target: 'task' }]);
    assert.throws(() => takeSnapshot(obj!, s, () => [null], 'g'),
      /snapshot tasks: iterator igt_it_task \(iter\/task\) wrote \d+ bytes, not a whole number of 53248-byte records of the data source's struct$/);
    for (const it of s.iters) it.link?.destroy();
  });
});
