// Encoding of BPF instructions (struct bpf_insn), for the few tiny programs ig assembles itself.
import { BPF_PSEUDO_MAP_FD } from './constants.js';

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
