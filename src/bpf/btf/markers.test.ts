import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Btf } from './btf.js';
import { BtfKind } from './types.js';
import { BtfBuilder, clangSkip, compileTestdata } from './test-helpers.js';

const noClang = clangSkip();

test('markers() finds every gadget marker in an object', { skip: noClang }, () => {
  const btf = Btf.fromElf(readFileSync(compileTestdata('gadget')));
  const m = btf.markers();
  assert.deepEqual(m, {
    tracers: [{ name: 'open_files', map: 'events', struct: 'event' }],
    tracerMaps: ['events'],
    mapIters: [{ name: 'top_files', map: 'file_stats' }],
    iters: [
      { name: 'tasks', struct: 'task_entry', programs: ['ig_task_it', 'ig_file_it'] },
      { name: 'old_snap', struct: 'task_entry', programs: ['snap_prog'], deprecated: true },
    ],
    params: ['targ_pid', 'targ_comm', 'targ_ip'],
    vars: ['gadget_var_enable_extra', 'gadget_var_threshold', 'gadget_filter_by_mntns'],
    iterTargetMaps: [{ program: 'dump_elems', map: 'pinned_map' }],
    skTargetMaps: [{ program: 'sk_prog', map: 'sock_map' }],
    pacedRings: [],
  });
  assert.equal(btf.markers(), m, 'cached');
  // Every param marker points at a real const volatile global.
  for (const p of m.params) assert.equal(btf.varInfo(p)?.constVolatile, true, p);
  // The struct named by the tracer is present.
  assert.equal(btf.structLayout(m.tracers[0].struct).size, 272);
});

test('malformed markers are reported with the expected shape', { skip: noClang }, () => {
  const btf = Btf.fromElf(readFileSync(compileTestdata('bad_marker')));
  assert.throws(() => btf.markers(),
    { message: 'invalid gadget marker "gadget_tracer_only_two___parts": expected gadget_tracer_<name>___<map>___<struct>' });
});

// Synthetic BTF: a `const void *` marker VAR is PTR -> CONST -> void.
function withMarkers(names: string[]): Btf {
  const b = new BtfBuilder();
  const cnst = b.ref(BtfKind.Const, '', 0);
  const ptr = b.ref(BtfKind.Ptr, '', cnst);
  for (const n of names) b.raw(n, BtfKind.Var, 0, false, ptr, [1]);
  return Btf.fromRaw(b.build());
}

test('gadget_ringbuf_paced_<map> (ig\'s buffer.h) names a ring that wakes its reader at fill levels and on a clock', () => {
  const m = withMarkers(['gadget_map_tracer_events', 'gadget_ringbuf_paced_events', 'gadget_ringbuf_paced_events']).markers();
  assert.deepEqual(m.pacedRings, ['events']);
  assert.deepEqual(m.tracerMaps, ['events']);
});

test('names keep single and double underscores; separators are exactly ___', () => {
  const m = withMarkers([
    'gadget_tracer_my_tracer___my_ring_buf___my_event_t',
    'gadget_mapiter_a_b___c__d',
    'gadget_iter_x___y___p1___p2___p3',
    'gadget_snapshotter_x___y___p3___p4',
  ]).markers();
  assert.deepEqual(m.tracers, [{ name: 'my_tracer', map: 'my_ring_buf', struct: 'my_event_t' }]);
  assert.deepEqual(m.mapIters, [{ name: 'a_b', map: 'c__d' }]);
  // Both spellings for one data source merge their programs.
  assert.deepEqual(m.iters, [{ name: 'x', struct: 'y', programs: ['p1', 'p2', 'p3', 'p4'] }]);
});

test('malformed shapes throw, non-marker types are ignored', () => {
  assert.throws(() => withMarkers(['gadget_mapiter_only']).markers(), /gadget_mapiter_<name>___<map>/);
  assert.throws(() => withMarkers(['gadget_iter_a___b']).markers(), /gadget_iter_<name>___<type>___<prog>/);
  assert.throws(() => withMarkers(['gadget_param_']).markers(), /gadget_param_<var>/);
  assert.throws(() => withMarkers(['gadget_tracer_a______c']).markers(), /invalid gadget marker/);

  // A struct (not a VAR) and a non-pointer VAR with marker names are not markers.
  const b = new BtfBuilder();
  const int = b.int('int', 4, 1);
  b.struct('gadget_tracer_x___y___z', 4, [{ name: 'a', type: int, bits: 0 }]);
  b.raw('gadget_param_foo', BtfKind.Var, 0, false, int, [1]);
  const m = Btf.fromRaw(b.build()).markers();
  assert.deepEqual(m.tracers, []);
  assert.deepEqual(m.params, []);
});
