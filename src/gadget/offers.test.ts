// Offered names and the netns channel: the typed wiring between operators (no kernel needed here; the loader's
// use of offers is covered by the LocalManager and socket-enricher tests with real gadgets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OfferedNames } from './offers.js';
import { NetnsTargets } from './netns.js';
import type { BpfMap } from '../bpf/map.js';

const fakeMap = (fd: number) => ({ fd }) as unknown as BpfMap; // only identity matters to the registry

test('declared maps and variables are what an operator may offer', () => {
  const o = new OfferedNames();
  o.declareMap({ name: 'gadget_sockets', keySize: 16, valueSize: 48 });
  o.declareVariable('gadget_filter_by_mntns');
  assert.equal(o.declaredMap('gadget_sockets')?.keySize, 16);
  assert.equal(o.declaredMap('other'), undefined);
  assert.ok(o.declaresVariable('gadget_filter_by_mntns'));
  assert.ok(!o.declaresVariable('gadget_var_x'));
});

test('an offer is found by name; a second, different offer of one name is an error', () => {
  const o = new OfferedNames();
  const m = fakeMap(7);
  o.offerMap('gadget_mntns_filter_map', m, 'LocalManager');
  o.offerMap('gadget_mntns_filter_map', m, 'LocalManager'); // the same map again is fine
  assert.equal(o.offeredMap('gadget_mntns_filter_map'), m);
  assert.throws(() => o.offerMap('gadget_mntns_filter_map', fakeMap(8), 'Other'), /offered twice \(by LocalManager and Other\)/);
  o.offerVariable('gadget_filter_by_mntns', Buffer.from([1]), 'LocalManager');
  assert.deepEqual(o.offeredVariable('gadget_filter_by_mntns'), Buffer.from([1]));
  assert.throws(() => o.offerVariable('gadget_filter_by_mntns', Buffer.from([0]), 'Other'), /offered twice/);
  o.withdrawMap('gadget_mntns_filter_map');
  assert.equal(o.offeredMap('gadget_mntns_filter_map'), undefined);
});

test('netns targets: ig\'s own namespace by default; additions and removals reach followers until they stop', () => {
  const t = new NetnsTargets();
  assert.deepEqual(t.paths, [null]);
  t.paths = ['/proc/1/ns/net'];
  assert.deepEqual(t.paths, ['/proc/1/ns/net']);
  const added: string[] = [];
  const removed: number[] = [];
  const stopAdd = t.onAdd((p) => added.push(p));
  const stopRemove = t.onRemove((i) => removed.push(i));
  t.add('/proc/2/ns/net');
  t.remove(4026531840);
  stopAdd();
  stopRemove();
  t.add('/proc/3/ns/net');
  t.remove(1);
  assert.deepEqual(added, ['/proc/2/ns/net']);
  assert.deepEqual(removed, [4026531840]);
});
