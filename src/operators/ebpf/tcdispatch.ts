// TC programs run behind a dispatcher of their own per network namespace, as upstream: gadgets read the
// namespace's inode from skb->cb[0] (include/gadget/sockets-map.h, the socket enricher's key), which TC does
// not set. The dispatcher stores it and tail-calls the gadget's program through a one-slot PROG_ARRAY; the
// gadget's return value is TC's verdict (TC_ACT_UNSPEC, -1, when the tail call fails).
import { insn, ldMapFd } from '../../bpf/asm.js';
import { BpfFunc, MapType, ProgType, SKB_CB0_OFFSET } from '../../bpf/constants.js';
import { BpfMap } from '../../bpf/map.js';
import type { Link } from '../../bpf/link.js';
import { Program } from '../../bpf/program.js';

function tcDispatcherInsns(netnsInode: number, progArrayFd: number): Buffer {
  return Buffer.concat([
    insn(0xb4, 2, 0, 0, netnsInode),          // w2 = inode
    insn(0x63, 1, 2, SKB_CB0_OFFSET, 0),      // *(u32 *)(r1 + cb[0]) = w2
    ldMapFd(2, progArrayFd),                  // r2 = prog array
    insn(0xb7, 3, 0, 0, 0),                   // r3 = 0
    insn(0x85, 0, 0, 0, BpfFunc.TailCall),    // tail call (r1 is still the skb)
    insn(0xb7, 0, 0, 0, -1),                  // r0 = TC_ACT_UNSPEC
    insn(0x95, 0, 0, 0, 0),                   // exit
  ]);
}

const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };

/** One gadget TC program behind dispatchers, one per network namespace inode; close() releases them all. */
export class TcDispatch {
  private readonly arr: BpfMap;
  private readonly byNetns = new Map<number, Program>();

  /** `targetFd`: the gadget program's fd (borrowed: the prog array takes its own reference). */
  constructor(targetFd: number, private readonly name: string) {
    this.arr = BpfMap.create({ type: MapType.ProgArray, keySize: 4, valueSize: 4, maxEntries: 1, name: 'ig_tcdisp' });
    try {
      this.arr.update(u32(0), u32(targetFd));
    } catch (e) {
      this.arr.close();
      throw e;
    }
  }

  /** Attach the program, as seen from network namespace `netnsInode`, to TC on ifindex. */
  attach(netnsInode: number, ifindex: number, egress: boolean): Link {
    let p = this.byNetns.get(netnsInode);
    if (!p) {
      p = Program.loadRaw(ProgType.SchedCls, tcDispatcherInsns(netnsInode, this.arr.fd), 'ig_tc_disp');
      this.byNetns.set(netnsInode, p);
    }
    const link = p.attachTc(ifindex, egress);
    return link;
  }

  /** The dispatcher of a namespace that went away (its links are destroyed by their owner). */
  forget(netnsInode: number): void {
    this.byNetns.get(netnsInode)?.close();
    this.byNetns.delete(netnsInode);
  }

  close(): void {
    for (const p of this.byNetns.values()) p.close();
    this.byNetns.clear();
    this.arr.close();
  }

  toString(): string { return `TcDispatch(${this.name})`; }
}
