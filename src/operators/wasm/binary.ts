// Just enough of the WebAssembly binary format to cap a module's memory before it is instantiated: the
// memory section's limits get a maximum of at most `capPages`, so memory.grow past the cap fails in the guest.
import { WasmError } from './errors.js';

export const PAGE = 65536;

function readLeb(b: Buffer, o: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    if (o >= b.length) throw new Error('truncated LEB128');
    const byte = b[o++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [v, o];
    shift += 7;
    if (shift > 35) throw new Error('LEB128 too long');
  }
}

function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
  return out;
}

/**
 * Return the module with every defined memory's maximum lowered to `capPages` (and its minimum checked).
 * Throws a WasmError when the module needs more than the cap to start.
 */
export function capMemory(bin: Buffer, capPages: number, who: string): Buffer {
  if (bin.length < 8 || bin.readUInt32LE(0) !== 0x6d736100) throw new WasmError(`${who}: not a WebAssembly module (bad magic)`);
  const parts: Buffer[] = [bin.subarray(0, 8)];
  let o = 8;
  try {
    while (o < bin.length) {
      const id = bin[o]!;
      const [size, body] = readLeb(bin, o + 1);
      const end = body + size;
      if (end > bin.length) throw new Error('section runs past the end');
      if (id !== 5) {
        parts.push(bin.subarray(o, end));
        o = end;
        continue;
      }
      let p = body;
      let count;
      [count, p] = readLeb(bin, p);
      const out: number[] = [...leb(count)];
      for (let k = 0; k < count; k++) {
        const flags = bin[p++]!;
        if (flags & 4) throw new Error('64-bit memories are not supported');
        let min;
        [min, p] = readLeb(bin, p);
        let max = Infinity;
        if (flags & 1) [max, p] = readLeb(bin, p);
        if (min > capPages) {
          throw new WasmError(`${who}: needs ${mib(min)} of memory at start, more than the limit of ${mib(capPages)} (--wasm-memory-limit)`);
        }
        out.push(flags | 1, ...leb(min), ...leb(Math.min(max, capPages)));
      }
      if (p !== end) throw new Error('memory section has trailing bytes');
      parts.push(Buffer.from([5, ...leb(out.length), ...out]));
      o = end;
    }
  } catch (e) {
    if (e instanceof WasmError) throw e;
    throw new WasmError(`${who}: invalid WebAssembly: ${(e as Error).message}`);
  }
  return Buffer.concat(parts);
}

export function mib(pages: number): string {
  const m = (pages * PAGE) / (1024 * 1024);
  return `${Math.round(m * 100) / 100} MiB`;
}
