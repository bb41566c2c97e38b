// Socket filters (`socket*` sections) run on a packet socket per traced network namespace. Gadgets read that
// namespace's inode from skb->cb[0] (include/gadget/sockets-map.h), so each packet socket gets a tiny
// dispatcher program of its own: it stores the inode in cb[0] and tail-calls the gadget's program through a
// one-slot PROG_ARRAY. The dispatcher is a handful of raw BPF instructions assembled here.
import { statSync } from 'node:fs';
import type { NativeAddon } from '../../bpf/native-api.js';

export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_MAP_TYPE_PROG_ARRAY = 3;
const BPF_FUNC_tail_call = 12;
/** offsetof(struct __sk_buff, cb[0]). */
export const SKB_CB0_OFFSET = 48;
const BPF_PSEUDO_MAP_FD = 1;

/** One struct bpf_insn: code, dst/src registers, 16-bit offset, 32-bit immediate. */
export function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm | 0, 4);
  return b;
}

/** ld_imm64 of a map fd (two instruction slots). */
export function ldMapFd(dst: number, fd: number): Buffer {
  return Buffer.concat([insn(0x18, dst, BPF_PSEUDO_MAP_FD, 0, fd), insn(0, 0, 0, 0, 0)]);
}

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
    insn(0x85, 0, 0, 0, BPF_FUNC_tail_call),  // tail call (r1 is still the skb)
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

export interface SocketFilterEnv {
  native: NativeAddon;
  netnsPaths: (string | null)[];
}

/**
 * One socket-filter program attached in several network namespaces: a packet socket per namespace, each through
 * its own dispatcher that records the namespace inode. Namespaces come and go with containers while it runs.
 */
export class NetnsSocketFilter {
  private readonly arr: number;
  private readonly byIno = new Map<number, number>(); // netns inode → packet socket fd

  constructor(private readonly n: NativeAddon, progFd: number) {
    // The prog array empties itself when its last fd is closed, so it stays open until close().
    this.arr = n.mapCreate(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 'ig_sockdisp', 0);
    n.mapUpdate(this.arr, u32(0), u32(progFd), 0);
  }

  /** Attach in the namespace at `path` (null: ig's own). Returns its inode, or undefined if it is gone. */
  add(path: string | null): number | undefined {
    let ino: number;
    try { ino = netnsInode(path); } catch { return undefined; } // the namespace went away (its container exited)
    if (this.byIno.has(ino)) return ino;
    const disp = this.n.progLoadRaw(BPF_PROG_TYPE_SOCKET_FILTER, dispatcherInsns(ino, this.arr), 'ig_netns_disp', 'GPL');
    try {
      const sock = this.n.openPacketSocket(path, 0);
      this.byIno.set(ino, sock);
      this.n.attachSocketFilterFd(sock, disp);
    } finally {
      this.n.closeFd(disp); // the socket holds the program now
    }
    return ino;
  }

  /** Detach from a namespace: our socket would otherwise keep a dead container's namespace alive. */
  remove(ino: number): void {
    const fd = this.byIno.get(ino);
    if (fd === undefined) return;
    this.byIno.delete(ino);
    try { this.n.closeFd(fd); } catch { /* closed */ }
  }

  inodes(): number[] { return [...this.byIno.keys()]; }

  close(): void {
    for (const ino of [...this.byIno.keys()]) this.remove(ino);
    try { this.n.closeFd(this.arr); } catch { /* closed */ }
  }
}

/** Attach `progFd` in every namespace of `env.netnsPaths`; the returned filter is closed by the caller. */
export function attachSocketFilterPerNetns(env: SocketFilterEnv, progFd: number): NetnsSocketFilter {
  const f = new NetnsSocketFilter(env.native, progFd);
  try {
    for (const ns of env.netnsPaths) f.add(ns);
  } catch (e) {
    f.close();
    throw e;
  }
  return f;
}
