// Protobuf base-128 varints for the messages the service writes by hand (GadgetEvent, upstream's payloads, the
// events written straight onto the HTTP/2 stream). Numbers, not BigInts: lengths and ids stay far below 2^53.

/** Bytes the varint of `v` takes. */
export function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}

/** Writes the varint of `v` at `at`; returns the offset after it. */
export function putVarint(out: Buffer, at: number, v: number): number {
  while (v >= 0x80) { out[at++] = (v & 0x7f) | 0x80; v = Math.floor(v / 128); }
  out[at++] = v;
  return at;
}
