// HPACK: the canonical Huffman code and the decoder against RFC 7541's examples (Appendix C.4, requests with
// Huffman coding sharing one dynamic table), and the literal encoder read back by the decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackError, encodeLiterals, huffmanCodes, huffmanDecode } from './hpack.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('the Huffman code built from the lengths is RFC 7541 Appendix B', () => {
  const c = huffmanCodes();
  assert.equal(c[0], 0x1ff8);
  assert.equal(c['0'.charCodeAt(0)], 0x0);
  assert.equal(c['a'.charCodeAt(0)], 0x3);
  assert.equal(c[255], 0x3ffffee);
  assert.equal(c[256], 0x3fffffff); // EOS
  assert.equal(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'), 0, 12), 'www.example.com');
});

test('RFC 7541 C.4: three requests decoded with one dynamic table', () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  assert.deepEqual(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
  assert.deepEqual(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')),
    [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
});

test('bad blocks are HpackErrors, literals round-trip', () => {
  assert.throws(() => new HpackDecoder().decode(hex('ff')), HpackError); // index 127+: truncated integer
  assert.throws(() => new HpackDecoder().decode(hex('be')), /index 62 is not in the table/);
  assert.throws(() => new HpackDecoder(4096).decode(hex('3fe21f')), /table size/); // size update above 4096
  assert.throws(() => huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4'), 0, 11), /padding/);
  const h: [string, string][] = [[':path', '/api.GadgetManager/RunGadget'], ['x-long', 'v'.repeat(300)]];
  assert.deepEqual(new HpackDecoder().decode(encodeLiterals(h)), h);
});
