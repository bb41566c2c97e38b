// Socket filters (`socket*` sections) run on a packet socket per traced network namespace. Gadgets read that
// namespace's inode from skb->cb[0] (include/gadget/sockets-map.h), so each packet socket gets a tiny
// dispatcher program of its own: it stores the inode in cb[0] and tail-calls the gadget's program through a
// one-slot PROG_ARRAY. The dispatcher is a handful of raw BPF instructions assembled here.
import { statSync } from 'node:fs';
import { insn, ldMapFd } from '../../bpf/asm.js';
import { BpfFunc, MapType, ProgType, SKB_CB0_OFFSET } from '../../bpf/constants.js';
import { BpfMap } from '../../bpf/map.js';
import { NetnsSocket } from '../../bpf/netns-socket.js';
import { Program } from '../../bpf/program.js';

/**
 * The dispatcher: cb[0] = netns inode; tail_call(ctx, progArray, 0); return 0 (the packet is never queued
 * on ig's socket: only the programs' side effects matter).
 */
export function dispatcherInsns(netnsInode: number, progArrayFd: number): Buffer {
  return Buffer.concat([
    insn(0xb4, 2, 0, 0, netnsInode),          // w2 = inode (32-bit move, zero-extended)
    insn(0x63, 1, 2, SKB_CB0_OFFSET, 0),      // *(u32 *)(r1 + cb[0]) = w2
    ldMapFd(2, progArrayFd),                  // r2 = prog array
    insn(0xb7, 3, 0, 0, 0),                   // r3 = 0
    insn(0x85, 0, 0, 0, BpfFunc.TailCall),    // tail call (r1 is still the skb)
    insn(0xb7, 0, 0, 0, 0),                   // r0 = 0
    insn(0x95, 0, 0, 0, 0),                   // exit
  ]);
}

/** Inode of the network namespace at `path` (null: this process's). */
export function netnsInode(path: string | null): number {
  return Number(statSync(path ?? '/proc/self/ns/net').ino);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/**
 * One socket-filter program attached in several network namespaces: a packet socket per namespace, each through
 * its own dispatcher that records the namespace inode. Namespaces come and go with containers while it runs.
 */
export class NetnsSocketFilter {
  private readonly arr: BpfMap;
  private readonly byIno = new Map<number, NetnsSocket>();

  /** `targetFd`: the gadget program's fd (borrowed: the prog array takes its own reference). */
  constructor(targetFd: number) {
    // The prog array empties itself when its last fd is closed, so it stays open until close().
    this.arr = BpfMap.create({ type: MapType.ProgArray, keySize: 4, valueSize: 4, maxEntries: 1, name: 'ig_sockdisp' });
    try {
      this.arr.update(u32(0), u32(targetFd));
    } catch (e) {
      this.arr.close();
      throw e;
    }
  }

  /** Attach in the namespace at `path` (null: ig's own). Returns its inode, or undefined if it is gone. */
  add(path: string | null): number | undefined {
    let ino: number;
    try { ino = netnsInode(path); } catch { return undefined; } // the namespace went away (its container exited)
    if (this.byIno.has(ino)) return ino;
    const disp = Program.loadRaw(ProgType.SocketFilter, dispatcherInsns(ino, this.arr.fd), 'ig_netns_disp');
    try {
      const sock = NetnsSocket.openPacket(path, 0);
      this.byIno.set(ino, sock);
      sock.attach(disp);
    } finally {
      disp.close(); // the socket holds the program now
    }
    return ino;
  }

  /** Detach from a namespace: our socket would otherwise keep a dead container's namespace alive. */
  remove(ino: number): void {
    const sock = this.byIno.get(ino);
    if (!sock) return;
    this.byIno.delete(ino);
    sock.close();
  }

  inodes(): number[] { return [...this.byIno.keys()]; }

  close(): void {
    for (const ino of [...this.byIno.keys()]) this.remove(ino);
    this.arr.close();
  }
}

/** Attach the program `targetFd` in every namespace of `netnsPaths`; the returned filter is closed by the caller. */
export function attachSocketFilterPerNetns(netnsPaths: (string | null)[], targetFd: number): NetnsSocketFilter {
  const f = new NetnsSocketFilter(targetFd);
  try {
    for (const ns of netnsPaths) f.add(ns);
  } catch (e) {
    f.close();
    throw e;
  }
  return f;
}
