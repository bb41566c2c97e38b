// BpfObject, ring buffer reader, setVar, reuseMapFd, map ops and dumps, verifier errors, cleanup.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { BpfMap, MapType, UpdateFlags } from './map.js';
import { native } from './native.js';
import { BpfObject } from './object.js';
import { forEachRecord } from './reader.js';
import {
  compileBpf, getppidLoop, loadedProgramNames, ownProgramIds, removeBuildDir, setupKernel, skipReason, stillLoadedIds, sumPerCpuU64, u32, u64, waitFor,
} from './testutil.js';

interface Ev { pid: number; tid: number; ppid: number; kind: number; comm: string }

function decode(buf: Buffer, count: number, into: Ev[]): void {
  forEachRecord(buf, count, (off, len) => {
    assert.ok(len >= 40, `record length ${len}`);
    const commEnd = buf.indexOf(0, off + 24);
    into.push({
      pid: buf.readUInt32LE(off),
      tid: buf.readUInt32LE(off + 4),
      ppid: buf.readUInt32LE(off + 16),
      kind: buf.readUInt32LE(off + 20),
      comm: buf.toString('latin1', off + 24, Math.min(commEnd < 0 ? off + 40 : commEnd, off + 40)),
    });
  });
}

describe('bpf object (ring buffer test program)', { skip: skipReason }, () => {
  let objPath = '';
  before(() => {
    setupKernel();
    objPath = compileBpf('ringbuf');
  });
  after(() => removeBuildDir());

  it('reports the libbpf version and CPU count', () => {
    assert.match(native.libbpfVersion(), /^1\.\d+$/);
    assert.ok(native.numPossibleCpus() >= 1);
  });

  it('fails to open a missing file with errno and a message naming the object', () => {
    assert.throws(() => BpfObject.open('/nonexistent/x.bpf.o', 'missing'), (e: Error & { errno?: number; code?: string }) => {
      assert.equal(e.errno, 2);
      assert.equal(e.code, 'ENOENT');
      assert.match(e.message, /open object missing/);
      return true;
    });
    assert.throws(() => BpfObject.open(Buffer.from('not an elf'), 'junk'), /open object junk/);
  });

  it('rejects wrong handle kinds', () => {
    assert.throws(() => native.close({} as never), TypeError);
    assert.throws(() => native.linkDestroy(null as never), /expected a link handle/);
  });

  it('opens from a Buffer, lists maps and programs, exposes BTF', () => {
    const obj = BpfObject.open(readFileSync(objPath), 'ringbuf');
    try {
      const maps = obj.maps();
      const names = maps.map((m) => m.name);
      for (const n of ['events', 'counts', 'seen', 'seen_pc']) assert.ok(names.includes(n), `map ${n} in ${names}`);
      const events = maps.find((m) => m.name === 'events')!;
      assert.equal(events.type, MapType.Ringbuf);
      assert.equal(events.fd, -1);
      assert.ok(maps.some((m) => m.internal && /rodata/.test(m.name)));
      const progs = obj.programs();
      assert.deepEqual(progs.map((p) => p.name), ['igt_rb_getppid']);
      assert.equal(progs[0]!.section, 'tracepoint/syscalls/sys_enter_getppid');
      assert.equal(progs[0]!.fd, -1);
      const btf = obj.btf();
      assert.ok(btf && btf.readUInt16LE(0) === 0xeb9f, 'BTF magic');
      assert.equal(obj.mapFd('events'), -1);
    } finally {
      obj.close();
      obj.close(); // idempotent
    }
  });

  it('setVar validates names and sizes before load', () => {
    const obj = BpfObject.open(objPath);
    try {
      assert.throws(() => obj.setVar('no_such_var', u32(1)), /variable no_such_var not found/);
      assert.throws(() => obj.setVar('target_pid', u64(1)), /target_pid is 8 bytes, the variable has 4/);
      obj.setVar('target_pid', Buffer.from([1])); // shorter: zero-padded
      assert.throws(() => obj.setMapMaxEntries('nope', 4096), /map nope not found/);
      obj.load();
      assert.throws(() => obj.setVar('target_pid', u32(1)), /already loaded/);
    } finally {
      obj.close();
    }
  });

  it('tracepoint events arrive through the ring buffer with the right pid, and setVar filters', async () => {
    const obj = BpfObject.open(objPath, 'ringbuf');
    const other = BpfObject.open(objPath, 'ringbuf_other');
    try {
      obj.setVar('target_pid', u32(process.pid)).setVar('kind', u32(7)).load();
      // The second object filters on a pid that does not exist: it must see nothing from us.
      other.setVar('target_pid', u32(0x7ffffff0)).load();
      const link = obj.attachTracepoint('igt_rb_getppid', 'syscalls', 'sys_enter_getppid');
      other.attachAuto('igt_rb_getppid');
      assert.equal(obj.links.length, 1);
      const events: Ev[] = [];
      const otherEvents: Ev[] = [];
      let batches = 0;
      const r = obj.openRingReader('events', (buf, count) => {
        batches++;
        decode(buf, count, events);
      });
      other.openRingReader('events', (buf, count) => decode(buf, count, otherEvents));
      getppidLoop(500);
      assert.ok(await waitFor(() => events.length >= 500), `got ${events.length} events`);
      const st = r.stop();
      assert.equal(r.stop().records, st.records); // idempotent
      assert.ok(st.records >= 500 && st.batches >= 1 && st.batches === batches, JSON.stringify(st));
      assert.equal(st.lost, 0);
      for (const e of events) {
        assert.equal(e.pid, process.pid);
        assert.equal(e.kind, 7);
        assert.equal(e.ppid, process.ppid); // CO-RE read of task->real_parent->tgid
      }
      assert.ok(events.some((e) => e.tid === process.pid));
      assert.equal(otherEvents.length, 0);
      const counts = obj.map('counts');
      assert.ok(counts.lookup(u32(0))!.readBigUInt64LE(0) >= 500n);
      link.destroy();
      link.destroy();
      assert.equal(obj.links.length, 0);
      const before = events.length;
      getppidLoop(50);
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(events.length, before, 'no events after the link is destroyed');
    } finally {
      obj.close();
      other.close();
    }
  });

  it('the attach error names the program and the target', () => {
    const obj = BpfObject.open(objPath, 'ringbuf');
    try {
      obj.load();
      assert.throws(
        () => obj.attachTracepoint('igt_rb_getppid', 'syscalls', 'sys_enter_no_such_call'),
        (e: Error & { errno?: number }) => {
          assert.match(e.message, /attach tracepoint syscalls\/sys_enter_no_such_call for program igt_rb_getppid: No such file or directory/);
          assert.equal(e.errno, 2);
          return true;
        },
      );
      assert.throws(() => obj.attachAuto('nope'), /program nope not found/);
    } finally {
      obj.close();
    }
  });

  it('reuseMapFd makes the program use a map we created', async () => {
    const mine = BpfMap.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4, name: 'igt_counts' });
    try {
      const obj = BpfObject.open(objPath, 'ringbuf');
      try {
        obj.setVar('target_pid', u32(process.pid)).reuseMapFd('counts', mine.fd).load();
        obj.attachAuto('igt_rb_getppid');
        getppidLoop(100);
        assert.ok(obj.map('counts').id === mine.id, 'same kernel map');
      } finally {
        obj.close();
      }
      // The object is gone; our fd still holds the map and the counts.
      assert.ok(mine.lookup(u32(0))!.readBigUInt64LE(0) >= 100n);
    } finally {
      mine.close();
    }
  });

  it('map ops by fd: update/lookup/delete/keys, per-CPU sizes, flags, size checks', () => {
    const h = BpfMap.create({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 16, name: 'igt_hash' });
    const pc = BpfMap.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 4, maxEntries: 2, name: 'igt_pc' });
    try {
      assert.equal(h.lookup(u32(1)), null);
      h.update(u32(1), u64(10));
      h.update(u32(2), u64(20), UpdateFlags.NoExist);
      assert.throws(() => h.update(u32(2), u64(21), UpdateFlags.NoExist), (e: Error & { code?: string }) => e.code === 'EEXIST');
      assert.equal(h.lookup(u32(2))!.readBigUInt64LE(0), 20n);
      assert.deepEqual([...h.keys()].map((k) => k.readUInt32LE(0)).sort(), [1, 2]);
      assert.equal(h.delete(u32(1)), true);
      assert.equal(h.delete(u32(1)), false);
      assert.throws(() => h.update(Buffer.alloc(2), u64(1)), /key is 2 bytes/);
      assert.throws(() => h.update(u32(3), Buffer.alloc(4)), /value is 4 bytes, expected 8/);
      assert.throws(() => native.mapLookup(h.fd, u32(2), 16), /valueSize 16 does not match/);

      const ncpu = native.numPossibleCpus();
      assert.equal(pc.valueBytes, 8 * ncpu);
      const v = Buffer.alloc(pc.valueBytes);
      for (let c = 0; c < ncpu; c++) v.writeUInt32LE(100 + c, c * 8);
      pc.update(u32(1), v);
      const got = pc.lookup(u32(1))!;
      assert.equal(got.length, 8 * ncpu);
      assert.deepEqual(pc.perCpuValues(got).map((b) => b.readUInt32LE(0)), [...Array(ncpu).keys()].map((c) => 100 + c));
      assert.throws(() => pc.update(u32(0), Buffer.alloc(4)), /one 8-aligned value per possible CPU/);
      assert.throws(() => pc.dump({ del: true }), /array maps cannot delete/);
      const d = pc.dump();
      assert.equal(d.count, 2);
      assert.equal(d.values.length, 2 * pc.valueBytes);
      assert.throws(() => native.mapInfo(0), /get info/);

      // LPM tries have no batch ops: mapDump falls back to iterate + lookup (+ delete).
      const lpm = BpfMap.create({ type: MapType.LpmTrie, keySize: 8, valueSize: 4, maxEntries: 16, name: 'igt_lpm', flags: 1 /* BPF_F_NO_PREALLOC */ });
      try {
        const key = (len: number, a: number, b: number) => Buffer.from([len, 0, 0, 0, 10, a, b, 0]);
        lpm.update(key(24, 1, 2), u32(1));
        lpm.update(key(16, 3, 0), u32(2));
        lpm.update(key(24, 3, 4), u32(3));
        const all = lpm.dump();
        assert.equal(all.count, 3);
        assert.deepEqual([0, 1, 2].map((i) => all.values.readUInt32LE(i * 4)).sort(), [1, 2, 3]);
        assert.equal(lpm.dump({ del: true }).count, 3);
        assert.equal(lpm.dump().count, 0);
      } finally {
        lpm.close();
      }
    } finally {
      h.close();
      pc.close();
    }
  });

  it('mapDump returns entries and deletes them when asked (hash and per-CPU hash)', () => {
    const obj = BpfObject.open(objPath, 'ringbuf');
    try {
      obj.setVar('target_pid', u32(process.pid)).load();
      obj.attachAuto('igt_rb_getppid');
      getppidLoop(123);
      const seen = obj.map('seen');
      const d = seen.dump();
      assert.equal(d.count, 1);
      assert.equal(d.keys.readUInt32LE(0), process.pid);
      assert.ok(d.values.readBigUInt64LE(0) >= 123n);
      const pc = obj.map('seen_pc');
      const e = pc.entries({ del: true });
      assert.equal(e.length, 1);
      assert.equal(e[0]![0].readUInt32LE(0), process.pid);
      let total = 0;
      for (const b of pc.perCpuValues(e[0]![1])) total += b.readUInt32LE(0);
      assert.ok(total >= 123, `per-cpu total ${total}`);
      obj.links[0]!.destroy();
      const del = seen.dump({ del: true });
      assert.equal(del.count, 1);
      assert.equal(seen.dump().count, 0);
      assert.equal([...seen.keys()].length, 0);
      assert.equal(pc.dump().count, 0);
      // Many entries across buckets, with and without delete.
      for (let i = 0; i < 300; i++) seen.update(u32(1000 + i), u64(i));
      const all = seen.dump();
      assert.equal(all.count, 300);
      const sum = [...Array(all.count).keys()].reduce((s, i) => s + all.values.readBigUInt64LE(i * 8), 0n);
      assert.equal(sum, BigInt((299 * 300) / 2));
      assert.equal(seen.dump({ del: true }).count, 300);
      assert.equal(seen.dump().count, 0);
      assert.equal(sumPerCpuU64(Buffer.alloc(0)), 0n);
    } finally {
      obj.close();
    }
  });

  it('a verifier rejection throws with the verifier log and errno', () => {
    const obj = BpfObject.open(compileBpf('bad'), 'bad');
    try {
      assert.throws(() => obj.load(), (e: Error & { log?: string; errno?: number }) => {
        assert.match(e.message, /load object bad/);
        assert.ok(typeof e.log === 'string' && e.log.length > 0, 'log present');
        assert.match(e.log!, /invalid mem access|R0/);
        assert.equal(e.errno, 13);
        return true;
      });
      assert.throws(() => obj.load(), /already loaded/);
    } finally {
      obj.close();
    }
  });

  it('closing releases every program (bpftool no longer lists them)', async () => {
    const obj = BpfObject.open(objPath, 'ringbuf');
    obj.load();
    obj.attachAuto('igt_rb_getppid');
    obj.openRingReader('events', () => {});
    assert.ok(loadedProgramNames().includes('igt_rb_getppid'));
    // by id: other runs of these tests on the machine load programs of the same names
    const held = ownProgramIds();
    assert.ok(held.length > 0, 'the object holds its programs');
    obj.close();
    assert.deepEqual(ownProgramIds(), [], 'no fd of a program is left');
    await waitFor(() => stillLoadedIds(held).length === 0, 3000, 50);
    assert.deepEqual(stillLoadedIds(held), []);
  });
});
