// Packet filters in pcap syntax: libpcap (native/src/pcap_compile.c) compiles the expression to classic BPF,
// cbpfToEbpf turns that into eBPF instructions that run at the start of a gadget's gadget_pf_<name>() function
// (include/gadget/packetfilter.h), and BpfObject.setPacketFilters has them spliced in at load.
//
// The calling convention is upstream's: gadget_pf_<name>(skb, skb, skb, data, data_end). R1-R3 (three copies of
// the skb) are free for the filter, R4/R5 hold the packet bounds and stay untouched. The filter ends by setting
// R1 = R2 = R3 = 0, R4 = result, R5 = 0, so the function's own body, `data != data_end && skb1 == skb2 &&
// skb2 == skb3`, returns result != 0.
//   A = R0 (32-bit), X = R1 (32-bit), R2/R3 scratch; M[0..15] on the stack at fp-64..fp-4;
//   packet loads check their end against data_end (outside the packet: the filter returns 0, as classic BPF).
import { insn } from './asm.js';
import { native } from './native.js';

/** libpcap's DLT_EN10MB: TC programs see Ethernet frames (loopback included). */
export const LINKTYPE_ETHERNET = 1;
/** The snap length the filter is compiled for (only affects the non-zero value a match returns). */
export const PCAP_FILTER_SNAPLEN = 262144;

/** One classic BPF instruction. */
export interface CbpfInsn { code: number; jt: number; jf: number; k: number }

export class PacketFilterError extends Error {}

/** Compile a pcap expression to classic BPF with libpcap; throws PacketFilterError with libpcap's reason. */
export function compilePcap(expr: string, linktype = LINKTYPE_ETHERNET, snaplen = PCAP_FILTER_SNAPLEN): CbpfInsn[] {
  let buf: Buffer;
  try {
    buf = native.pcapCompile(expr, linktype, snaplen);
  } catch (e) {
    throw new PacketFilterError((e as Error).message);
  }
  const out: CbpfInsn[] = [];
  for (let o = 0; o + 8 <= buf.length; o += 8) out.push({ code: buf.readUInt16LE(o), jt: buf[o + 2]!, jf: buf[o + 3]!, k: buf.readUInt32LE(o + 4) });
  return out;
}

/** eBPF instructions for a pcap expression, ready for BpfObject.setPacketFilters. */
export function pcapToEbpf(expr: string): Buffer {
  return cbpfToEbpf(compilePcap(expr));
}

// classic BPF encoding (linux/filter.h)
const C = {
  LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, RET: 0x06, MISC: 0x07,
  W: 0x00, H: 0x08, B: 0x10,
  IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80, MSH: 0xa0,
  K: 0x00, X: 0x08, A: 0x10,
  JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40,
  DIV: 0x30, MOD: 0x90,
  TAX: 0x00, TXA: 0x80,
} as const;

// eBPF encoding (linux/bpf.h)
const E = {
  ALU: 0x04, JMP: 0x05, JMP32: 0x06, ALU64: 0x07, LDX: 0x61 /* LDX|MEM */, STX: 0x63 /* STX|MEM */,
  MOV: 0xb0, ADD: 0x00, AND: 0x50, LSH: 0x60, END: 0xd0, TO_BE: 0x08,
  K: 0x00, X: 0x08, JA: 0x00, JEQ: 0x10, JGT: 0x20,
  SZ: { [C.W]: 0x00, [C.H]: 0x08, [C.B]: 0x10 } as Record<number, number>,
} as const;
const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, FP = 10;
const A = R0, X = R1;
/** The largest offset the verifier accepts on a packet pointer (MAX_PACKET_OFF). */
const MAX_PACKET_OFF = 0xffff;
/** __sk_buff.len */
const SKB_LEN_OFF = 0;
/** skb->len is saved here at entry when the filter reads the packet length (R1, the skb, is X from then on). */
const LEN_SLOT = -72;

const sizeOf = (sz: number) => (sz === C.W ? 4 : sz === C.H ? 2 : 1);
const memSlot = (k: number) => -64 + 4 * k;

type Label = { label: 'reject' | 'result' } | { cbpf: number };
interface Pending { at: number; target: Label; wide?: boolean }

/** Translate classic BPF (as libpcap emits and the kernel's classic checker accepts) to eBPF (see the top). */
export function cbpfToEbpf(prog: CbpfInsn[]): Buffer {
  if (prog.length === 0) throw new PacketFilterError('empty classic BPF program');
  const out: Buffer[] = [];
  const starts: number[] = [];
  const jumps: Pending[] = [];
  const emit = (code: number, dst: number, src: number, off: number, imm: number) => { out.push(insn(code, dst, src, off, imm)); };
  const jump = (code: number, dst: number, src: number, imm: number, target: Label) => { jumps.push({ at: out.length, target }); emit(code, dst, src, 0, imm); };
  const reject = (code: number, dst: number, src: number, imm: number) => jump(code, dst, src, imm, { label: 'reject' });
  const usesLen = prog.some((p) => (p.code & 0x07) <= C.LDX && (p.code & 0xe0) === C.LEN);

  // classic BPF starts with A = X = 0
  if (usesLen) {
    emit(E.LDX | E.SZ[C.W]!, R2, R1, SKB_LEN_OFF, 0);
    emit(E.STX | E.SZ[C.W]!, FP, R2, LEN_SLOT, 0);
  }
  emit(E.ALU64 | E.MOV | E.K, A, 0, 0, 0);
  emit(E.ALU64 | E.MOV | E.K, X, 0, 0, 0);

  /** dst = P[base + k : size] in network order; base is R4 (ABS) or R4 + X (IND). Out of the packet: reject. */
  const loadPacket = (dst: number, size: number, k: number, indirect: boolean) => {
    const n = sizeOf(size);
    if (indirect) {
      // R2 = X + k, bounded so the verifier accepts packet pointer + R2
      emit(E.ALU64 | E.MOV | E.X, R2, X, 0, 0);
      if (k !== 0) {
        emit(E.ALU64 | E.MOV | E.K, R3, 0, 0, 0);
        emit(E.ALU | E.MOV | E.K, R3, 0, 0, k);           // R3 = (u32)k
        emit(E.ALU64 | E.ADD | E.X, R2, R3, 0, 0);
      }
      reject(E.JMP | E.JGT | E.K, R2, 0, MAX_PACKET_OFF);
      emit(E.ALU64 | E.MOV | E.X, R3, R4, 0, 0);
      emit(E.ALU64 | E.ADD | E.X, R3, R2, 0, 0);          // R3 = data + X + k
    } else {
      if (k > MAX_PACKET_OFF) {
        // never inside a packet; a conditional jump keeps what follows reachable for the verifier's CFG check
        emit(E.ALU | E.MOV | E.K, R2, 0, 0, k);
        reject(E.JMP | E.JGT | E.K, R2, 0, MAX_PACKET_OFF);
        k = 0;
      }
      emit(E.ALU64 | E.MOV | E.X, R3, R4, 0, 0);
      emit(E.ALU64 | E.ADD | E.K, R3, 0, 0, k);           // R3 = data + k
    }
    emit(E.ALU64 | E.MOV | E.X, R2, R3, 0, 0);
    emit(E.ALU64 | E.ADD | E.K, R2, 0, 0, n);
    reject(E.JMP | E.JGT | E.X, R2, R5, 0);               // data + off + n > data_end
    emit(E.LDX | E.SZ[size]!, dst, R3, 0, 0);
    if (n > 1) emit(E.ALU | E.END | E.TO_BE, dst, 0, 0, n * 8);
  };

  prog.forEach((p, i) => {
    starts[i] = out.length;
    const cls = p.code & 0x07;
    const size = p.code & 0x18;
    const mode = p.code & 0xe0;
    const bad = () => new PacketFilterError(`classic BPF instruction ${i} (code 0x${p.code.toString(16)}) is not supported`);
    switch (cls) {
      case C.LD: case C.LDX: {
        const dst = cls === C.LD ? A : X;
        if (mode === C.IMM) emit(E.ALU | E.MOV | E.K, dst, 0, 0, p.k);
        else if (mode === C.MEM) { if (p.k > 15) throw bad(); emit(E.LDX | E.SZ[C.W]!, dst, FP, memSlot(p.k), 0); }
        else if (mode === C.LEN) emit(E.LDX | E.SZ[C.W]!, dst, FP, LEN_SLOT, 0);
        else if (cls === C.LD && (mode === C.ABS || mode === C.IND) && size !== 0x18) loadPacket(A, size, p.k, mode === C.IND);
        else if (cls === C.LDX && mode === C.MSH) {
          loadPacket(X, C.B, p.k, false);
          emit(E.ALU | E.AND | E.K, X, 0, 0, 0xf);
          emit(E.ALU | E.LSH | E.K, X, 0, 0, 2);
        } else throw bad();
        break;
      }
      case C.ST: case C.STX:
        if (p.k > 15) throw bad();
        emit(E.STX | E.SZ[C.W]!, FP, cls === C.ST ? A : X, memSlot(p.k), 0);
        break;
      case C.ALU: {
        const op = p.code & 0xf0;
        const src = p.code & 0x08;
        // classic BPF ends the program with 0 on a division by zero; eBPF would go on with 0
        if ((op === C.DIV || op === C.MOD) && src === C.X) reject(E.JMP32 | E.JEQ | E.K, X, 0, 0);
        // same operation and source bits; the class is eBPF's 32-bit ALU
        emit(E.ALU | op | src, A, src === C.X ? X : 0, 0, src === C.X ? 0 : p.k);
        break;
      }
      case C.JMP: {
        const op = p.code & 0xf0;
        if (op === C.JA) { jump(E.JMP | E.JA, 0, 0, 0, { cbpf: i + 1 + p.k }); break; }
        const src = p.code & 0x08;
        jump(E.JMP32 | op | src, A, src === C.X ? X : 0, src === C.X ? 0 : p.k, { cbpf: i + 1 + p.jt });
        if (p.jf !== 0) jump(E.JMP | E.JA, 0, 0, 0, { cbpf: i + 1 + p.jf });
        break;
      }
      case C.RET: {
        const rv = p.code & 0x18;
        if (rv === C.K) emit(E.ALU | E.MOV | E.K, A, 0, 0, p.k);
        else if (rv === C.X) emit(E.ALU | E.MOV | E.X, A, X, 0, 0);
        jump(E.JMP | E.JA, 0, 0, 0, { label: 'result' });
        break;
      }
      case C.MISC:
        if ((p.code & 0xf8) === C.TAX) emit(E.ALU | E.MOV | E.X, X, A, 0, 0);
        else if ((p.code & 0xf8) === C.TXA) emit(E.ALU | E.MOV | E.X, A, X, 0, 0);
        else throw bad();
        break;
      default:
        throw bad();
    }
  });
  // reject: result 0 (only when something jumps there: the verifier refuses unreachable instructions)
  const rejects = jumps.some((j) => 'label' in j.target && j.target.label === 'reject');
  const labels = { reject: out.length, result: out.length + (rejects ? 1 : 0) };
  if (rejects) emit(E.ALU64 | E.MOV | E.K, A, 0, 0, 0);
  // result: the registers the function body compares (see the top)
  emit(E.ALU64 | E.MOV | E.K, R1, 0, 0, 0);
  emit(E.ALU64 | E.MOV | E.K, R2, 0, 0, 0);
  emit(E.ALU64 | E.MOV | E.K, R3, 0, 0, 0);
  emit(E.ALU64 | E.MOV | E.X, R4, A, 0, 0);
  emit(E.ALU64 | E.MOV | E.K, R5, 0, 0, 0);

  for (const j of jumps) {
    let t: number;
    if ('label' in j.target) t = labels[j.target.label];
    else {
      const s = starts[j.target.cbpf];
      if (s === undefined) throw new PacketFilterError(`classic BPF jump past the end of the program`);
      t = s;
    }
    const off = t - (j.at + 1);
    if (off > 0x7fff) throw new PacketFilterError('packet filter too large');
    out[j.at]!.writeInt16LE(off, 2);
  }
  return Buffer.concat(out);
}
