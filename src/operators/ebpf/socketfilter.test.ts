// The per-netns socket-filter dispatcher: instruction encoding, and on the kernel, that a program behind the
// dispatcher sees its namespace's inode in skb->cb[0] (one packet socket per namespace, host and a test netns).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { skipReason, waitFor } from '../../bpf/testutil.js';
import { insn, ldMapFd } from '../../bpf/asm.js';
import { MapType, ProgType, SKB_CB0_OFFSET } from '../../bpf/constants.js';
import { BpfMap } from '../../bpf/map.js';
import { Program } from '../../bpf/program.js';
import { attachSocketFilterPerNetns, dispatcherInsns, netnsInode } from './socketfilter.js';

/** IDs of the loaded programs this test makes (dispatchers and the target). */
function progIds(): Set<number> {
  const out = execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return new Set((JSON.parse(out || '[]') as { id: number; name?: string }[]).filter((p) => p.name === 'ig_netns_disp' || p.name === 'igt_sf_target').map((p) => p.id));
}

describe('socket filter dispatcher', () => {
  it('assembles cb[0] = inode, tail call, return 0', () => {
    const b = dispatcherInsns(4026531840, 7);
    assert.equal(b.length, 8 * 8); // 7 instructions, ld_imm64 takes two slots
    assert.deepEqual([...b.subarray(0, 8)], [0xb4, 0x02, 0, 0, 0x00, 0x00, 0x00, 0xf0]); // w2 = 0xf0000000
    assert.deepEqual([...b.subarray(8, 16)], [0x63, 0x21, SKB_CB0_OFFSET, 0, 0, 0, 0, 0]); // *(u32 *)(r1 + 48) = w2
    assert.deepEqual([...b.subarray(16, 24)], [0x18, 0x12, 0, 0, 7, 0, 0, 0]); // r2 = map fd 7 (pseudo)
    assert.equal(b[40], 0x85); // call
    assert.equal(b.readInt32LE(44), 12); // bpf_tail_call
    assert.equal(b[56], 0x95); // exit
  });

  it('gives the netns inode of the current process', () => {
    assert.equal(netnsInode(null), statSync('/proc/self/ns/net').ino);
  });

  it('a program behind the dispatchers reads each namespace inode from cb[0]', { skip: skipReason }, async () => {
    const ns = `igt-sfd-${process.pid}`;
    const nsPath = `/var/run/netns/${ns}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const closers: (() => void)[] = [];
    const before = progIds();
    let seen: BpfMap | undefined;
    let target: Program | undefined;
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // seen[cb[0]] = 1 for every packet.
      seen = BpfMap.create({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 16, name: 'igt_seen' });
      const seenMap = seen;
      const prog = Buffer.concat([
        insn(0x61, 2, 1, SKB_CB0_OFFSET, 0), // w2 = *(u32 *)(r1 + cb[0])
        insn(0x63, 10, 2, -4, 0),            // *(u32 *)(r10 - 4) = w2
        insn(0xb7, 1, 0, 0, 1),              // r1 = 1
        insn(0x7b, 10, 1, -16, 0),           // *(u64 *)(r10 - 16) = r1
        ldMapFd(1, seen.fd),                 // r1 = seen
        insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, -4),   // r2 = &key
        insn(0xbf, 3, 10, 0, 0), insn(0x07, 3, 0, 0, -16),  // r3 = &value
        insn(0xb7, 4, 0, 0, 0),              // r4 = BPF_ANY
        insn(0x85, 0, 0, 0, 2),              // bpf_map_update_elem
        insn(0xb7, 0, 0, 0, 0),
        insn(0x95, 0, 0, 0, 0),
      ]);
      target = Program.loadRaw(ProgType.SocketFilter, prog, 'igt_sf_target');
      const filter = attachSocketFilterPerNetns([null, nsPath, `/proc/self/ns/net`], target.fd);
      closers.push(() => filter.close());
      const inodes = filter.inodes();
      const hostIno = statSync('/proc/self/ns/net').ino;
      const testIno = statSync(nsPath).ino;
      assert.deepEqual(inodes, [hostIno, testIno], 'one socket per namespace, duplicates skipped');
      const key = (v: number) => { const k = Buffer.alloc(4); k.writeUInt32LE(v); return k; };
      const send = 'import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b"igtest", ("127.0.0.1", 9))\n';
      for (let i = 0; i < 50 && !seenMap.lookup(key(testIno)); i++) {
        const r = spawnSync('ip', ['netns', 'exec', ns, 'python3', '-c', send], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      for (let i = 0; i < 50 && !seenMap.lookup(key(hostIno)); i++) {
        const r = spawnSync('python3', ['-c', send], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      assert.ok(seenMap.lookup(key(testIno)), 'packets in the test netns carry its inode');
      assert.ok(seenMap.lookup(key(hostIno)), 'packets in the host netns carry its inode');
      // Only the two inodes were ever written.
      const keys = [...seenMap.keys()].map((k) => k.readUInt32LE(0));
      assert.deepEqual(keys.sort(), [hostIno, testIno].sort());
    } finally {
      for (const c of closers) c();
      target?.close();
      seen?.close();
      spawnSync('ip', ['netns', 'del', ns]);
    }
    // Programs are freed after an RCU grace period. Dispatchers of other ig runs may exist: compare ids.
    const left = () => [...progIds()].filter((id) => !before.has(id));
    await waitFor(() => left().length === 0, 5000, 50);
    assert.deepEqual(left(), []);
  });
});
