// Guest memory access with bounds checks. Strings and buffers cross the ABI as one i64: len << 32 | ptr
// (upstream's convention); 0 is the empty string. Every host function reads and writes guest memory here,
// so a bad pointer is caught in one place and ends the run (GuestAbuse) instead of corrupting anything.
import { GuestAbuse } from './errors.js';

const U32 = 0xffffffffn;
const TWO32 = 2 ** 32;
/** Below this a `len << 32 | ptr` value is exact as a double (len < 2^21): split it without BigInt arithmetic. */
const EXACT = 2n ** 53n;

type Utf8Buffer = Buffer & { utf8Slice(start: number, end: number): string };

export class GuestMemory {
  private mem?: WebAssembly.Memory;
  private bytes = Buffer.alloc(0) as Utf8Buffer;
  private view = new DataView(new ArrayBuffer(0));

  bind(mem: WebAssembly.Memory): void {
    this.mem = mem;
    this.refresh();
  }

  /**
   * Views go stale when the guest grows its memory; re-read the buffer when it changed. Growing detaches the old
   * ArrayBuffer (its views read as 0 bytes long), so check() calls this only when a range does not fit: reading
   * Memory.buffer on every host call cost ~30% of a fieldSet.
   */
  private refresh(): void {
    const ab = this.mem!.buffer;
    if (this.bytes.buffer !== ab) {
      this.bytes = Buffer.from(ab) as Utf8Buffer;
      this.view = new DataView(ab);
    }
  }

  get size(): number {
    return this.mem ? this.mem.buffer.byteLength : 0;
  }

  private check(ptr: number, len: number, what: string): Buffer {
    if (ptr + len <= this.bytes.length) return this.bytes;
    if (!this.mem) throw new GuestAbuse(`${what}: the module has no exported memory`);
    this.refresh();
    if (ptr + len > this.bytes.length) {
      throw new GuestAbuse(`${what}: pointer 0x${ptr.toString(16)} + ${len} bytes is outside its ${this.bytes.length}-byte memory`);
    }
    return this.bytes;
  }

  /** The guest bytes named by a `len << 32 | ptr` value (a view, valid until the guest runs again). */
  slice(lp: bigint, what: string): Buffer {
    const ptr = ptrOf(lp);
    const len = lenOf(lp);
    return this.check(ptr, len, what).subarray(ptr, ptr + len);
  }

  /** A `len << 32 | ptr` string, decoded straight from guest memory (no view allocated per call). */
  string(lp: bigint, what: string): string {
    if (lp === 0n) return '';
    let ptr: number;
    let len: number;
    if (lp > 0n && lp < EXACT) {
      const x = Number(lp);
      ptr = x % TWO32;
      len = (x - ptr) / TWO32;
    } else {
      ptr = ptrOf(lp);
      len = lenOf(lp);
    }
    return (this.check(ptr, len, what) as Utf8Buffer).utf8Slice(ptr, ptr + len);
  }

  /** Copy `src` into the destination buffer `dst` (len << 32 | ptr); false when it does not fit (not an abuse). */
  write(src: Buffer | Uint8Array, dst: bigint, what: string): boolean {
    const ptr = ptrOf(dst);
    const cap = lenOf(dst);
    const b = this.check(ptr, cap, what);
    if (src.length > cap) return false;
    b.set(src, ptr);
    return true;
  }

  /** Copy bytes [start, end) of `src` into `dst`; returns the count, or -1 when they do not fit. */
  writeRange(src: Buffer, start: number, end: number, dst: bigint, what: string): number {
    const ptr = ptrOf(dst);
    const cap = lenOf(dst);
    const b = this.check(ptr, cap, what);
    const n = end - start;
    if (n > cap) return -1;
    src.copy(b, ptr, start, end);
    return n;
  }

  /** Store an error code at an out-pointer; 0 means the guest passed none. */
  writeErr(ptr: number, code: number, what: string): void {
    if (ptr === 0) return;
    this.check(ptr >>> 0, 4, `${what}: error pointer`);
    this.view.setUint32(ptr >>> 0, code, true);
  }

  u32(ptr: number, what: string): number {
    this.check(ptr >>> 0, 4, what);
    return this.view.getUint32(ptr >>> 0, true);
  }
}

/** The low 32 bits of a `len << 32 | ptr` value (it arrives as a signed i64). */
function ptrOf(lp: bigint): number {
  if (lp >= 0n && lp < EXACT) return Number(lp) % TWO32;
  return Number(lp & U32);
}

/** The high 32 bits of a `len << 32 | ptr` value. */
function lenOf(lp: bigint): number {
  if (lp >= 0n && lp < EXACT) return Math.floor(Number(lp) / TWO32);
  return Number((lp >> 32n) & U32);
}
