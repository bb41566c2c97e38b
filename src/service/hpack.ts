// HPACK (RFC 7541) for the raw gRPC call (h2-call.ts): decoding the header blocks a server sends (the response
// headers and the trailers that carry grpc-status; indexed fields, literals, the dynamic table, Huffman strings)
// and encoding the few request headers as literals without indexing (no Huffman: the server decodes either).

/**
 * Bit lengths of the canonical Huffman code of RFC 7541 Appendix B, symbols 0-255 then EOS (256). The code is
 * canonical: codes are assigned in increasing order by (length, symbol), so the lengths define it.
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/** The codes of the canonical Huffman code (symbol → code of HUFFMAN_LENGTHS[symbol] bits). */
export function huffmanCodes(): number[] {
  const order = HUFFMAN_LENGTHS.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  const codes = new Array<number>(HUFFMAN_LENGTHS.length);
  let code = 0;
  let len = order[0]!.len;
  for (const o of order) {
    code *= 2 ** (o.len - len);
    len = o.len;
    codes[o.sym] = code;
    code++;
  }
  return codes;
}

/** The decoding tree: node n's children at 2n and 2n+1; a leaf holds -(symbol + 1). */
let tree: Int32Array | undefined;
function huffmanTree(): Int32Array {
  if (tree) return tree;
  const codes = huffmanCodes();
  const t = new Int32Array(2 * 2 * 257); // a full code of 257 leaves has 256 inner nodes
  let next = 1;
  for (let sym = 0; sym < codes.length; sym++) {
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = Math.floor(codes[sym]! / 2 ** b) & 1;
      const slot = 2 * node + bit;
      if (b === 0) { t[slot] = -(sym + 1); break; }
      if (t[slot] === 0) t[slot] = next++;
      node = t[slot]!;
    }
  }
  return (tree = t);
}

export class HpackError extends Error {}

/** Decode a Huffman-coded string (RFC 7541 5.2: padding is at most 7 bits of the EOS code's leading ones). */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  const t = huffmanTree();
  const out: number[] = [];
  let node = 0;
  let depth = 0;
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      const v = t[2 * node + bit]!;
      depth++;
      ones &&= bit === 1;
      if (v < 0) {
        const sym = -v - 1;
        if (sym === EOS) throw new HpackError('HPACK: EOS inside a Huffman string');
        out.push(sym);
        node = 0; depth = 0; ones = true;
      } else {
        node = v;
      }
    }
  }
  if (depth > 7 || !ones) throw new HpackError('HPACK: bad Huffman padding');
  return Buffer.from(out).toString('latin1');
}

/** RFC 7541 Appendix A: the static table (index 1-61). */
const STATIC: [string, string][] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** One connection's HPACK decoder (its dynamic table lives as long as the connection). */
export class HpackDecoder {
  private dynamic: [string, string][] = [];
  private size = 0;

  /** `maxSize`: the SETTINGS_HEADER_TABLE_SIZE this side announced (the limit of size updates). */
  constructor(private readonly maxSize = 4096, private limit = maxSize) {}

  /** The header fields of one complete header block. */
  decode(block: Uint8Array): [string, string][] {
    const out: [string, string][] = [];
    let pos = 0;
    const int = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let v = block[pos++]! & mask;
      if (v < mask) return v;
      let mul = 1;
      for (;;) {
        if (pos >= block.length) throw new HpackError('HPACK: truncated integer');
        const b = block[pos++]!;
        v += (b & 0x7f) * mul;
        mul *= 128;
        if (!(b & 0x80)) return v;
        if (mul > 2 ** 28) throw new HpackError('HPACK: integer too large');
      }
    };
    const str = (): string => {
      if (pos >= block.length) throw new HpackError('HPACK: truncated string');
      const huff = (block[pos]! & 0x80) !== 0;
      const n = int(7);
      if (n > block.length - pos) throw new HpackError('HPACK: truncated string');
      const s = huff ? huffmanDecode(block, pos, pos + n) : Buffer.from(block.buffer, block.byteOffset + pos, n).toString('latin1');
      pos += n;
      return s;
    };
    const entry = (index: number): [string, string] => {
      if (index >= 1 && index <= STATIC.length) return STATIC[index - 1]!;
      const d = this.dynamic[index - STATIC.length - 1];
      if (!d) throw new HpackError(`HPACK: index ${index} is not in the table`);
      return d;
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        const e = entry(int(7));
        out.push([e[0], e[1]]);
      } else if (b & 0x40) {
        const idx = int(6);
        const name = idx === 0 ? str() : entry(idx)[0];
        const value = str();
        out.push([name, value]);
        this.add(name, value);
      } else if (b & 0x20) {
        const n = int(5);
        if (n > this.maxSize) throw new HpackError(`HPACK: table size ${n} above the ${this.maxSize} announced`);
        this.limit = n;
        this.evict(0);
      } else {
        // literal without indexing (0000) or never indexed (0001)
        const idx = int(4);
        const name = idx === 0 ? str() : entry(idx)[0];
        out.push([name, str()]);
      }
    }
    return out;
  }

  private add(name: string, value: string): void {
    const n = name.length + value.length + 32;
    this.evict(n);
    if (n > this.limit) return; // larger than the table: it empties the table and is not kept (RFC 7541 4.4)
    this.dynamic.unshift([name, value]);
    this.size += n;
  }

  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.size + room > this.limit) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}

/** A header block of literal fields without indexing, no Huffman (RFC 7541 6.2.2). */
export function encodeLiterals(headers: [string, string][]): Buffer {
  const parts: number[] = [];
  const int = (v: number, prefixBits: number, first: number): void => {
    const mask = (1 << prefixBits) - 1;
    if (v < mask) { parts.push(first | v); return; }
    parts.push(first | mask);
    v -= mask;
    while (v >= 128) { parts.push((v % 128) | 0x80); v = Math.floor(v / 128); }
    parts.push(v);
  };
  const str = (s: string): void => {
    const b = Buffer.from(s, 'latin1');
    int(b.length, 7, 0);
    for (const x of b) parts.push(x);
  };
  for (const [name, value] of headers) {
    int(0, 4, 0);
    str(name);
    str(value);
  }
  return Buffer.from(parts);
}
