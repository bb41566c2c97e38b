/**
 * A tiny protobuf wire-format reader for the payloads of containerd events (the `Any.value` of an
 * events Envelope). Those payloads are small flat messages (TaskStart, TaskExit, ContainerDelete, …) of
 * which we need a few string / varint fields; decoding them by field number avoids one generated type
 * per event.
 */

export type WireValue = bigint | Buffer;

/** Decode a message into field number → values (repeated fields keep every value, in order). */
export function decodeFields(buf: Uint8Array): Map<number, WireValue[]> {
  const out = new Map<number, WireValue[]>();
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= b.length) throw new Error('truncated varint');
      const byte = b[i++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wt = key & 7;
    let val: WireValue;
    switch (wt) {
      case 0: val = varint(); break;
      case 1: val = b.subarray(i, i + 8); i += 8; break;
      case 2: {
        const len = Number(varint());
        if (i + len > b.length) throw new Error('truncated length-delimited field');
        val = b.subarray(i, i + len);
        i += len;
        break;
      }
      case 5: val = b.subarray(i, i + 4); i += 4; break;
      default: throw new Error(`unsupported wire type ${wt}`);
    }
    if (i > b.length) throw new Error('truncated field');
    const list = out.get(field);
    if (list) list.push(val); else out.set(field, [val]);
  }
  return out;
}

export function fieldString(f: Map<number, WireValue[]>, n: number): string {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : '';
}

export function fieldUint(f: Map<number, WireValue[]>, n: number): number {
  const v = f.get(n)?.[0];
  return typeof v === 'bigint' ? Number(v) : 0;
}
