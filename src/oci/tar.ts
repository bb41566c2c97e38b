// A small ustar writer and a defensive reader, enough for OCI layout tarballs.
// The writer is deterministic: given the same entries and mtime it produces the same bytes.

import { OciError } from './errors.js';
import { zlib } from '../runtime/lazy-builtins.js';

const BLOCK = 512;

export interface TarFile {
  name: string;
  data: Buffer;
  /** seconds since the epoch */
  mtime?: number;
  mode?: number;
}

function writeString(h: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > len) throw new OciError(`tar: "${s}" does not fit in ${len} bytes`);
  b.copy(h, off);
}

function writeOctal(h: Buffer, off: number, len: number, n: number): void {
  // len-1 digits, NUL-terminated
  const s = Math.max(0, Math.floor(n)).toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new OciError(`tar: value ${n} too large for a ${len}-byte field`);
  writeString(h, off, len, s + '\0');
}

function header(name: string, size: number, mtime: number, mode: number, type: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new OciError(`tar: path too long: ${name}`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  writeString(h, 0, 100, base);
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  writeString(h, 156, 1, type);
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Build a ustar archive of regular files (uid/gid 0, no user names), in the order given. */
export function writeTar(files: TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(header(f.name, f.data.length, f.mtime ?? 0, f.mode ?? 0o644, '0'));
    parts.push(f.data);
    const pad = (BLOCK - (f.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** An entry for writeTarFile: small data inline, or a file copied by streaming (its sha256 is checked on the way). */
export interface TarFileEntry {
  name: string;
  mtime?: number;
  data?: Buffer;
  file?: { path: string; size: number; digest: string };
}

/**
 * Write the same bytes as writeTar to `fh`, but copy `file` entries in chunks, so an archive of large blobs never
 * sits in memory. A file whose content does not match its digest (or size) stops the write.
 */
export async function writeTarFile(fh: import('node:fs/promises').FileHandle, entries: TarFileEntry[]): Promise<void> {
  const { createReadStream } = await import('node:fs');
  const { createHash } = await import('node:crypto');
  for (const e of entries) {
    const size = e.data ? e.data.length : e.file!.size;
    await fh.write(header(e.name, size, e.mtime ?? 0, 0o644, '0'));
    if (e.data) await fh.write(e.data);
    else {
      const hash = createHash('sha256');
      let n = 0;
      for await (const c of createReadStream(e.file!.path) as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > size) break;
        hash.update(c);
        await fh.write(c);
      }
      if (n !== size || `sha256:${hash.digest('hex')}` !== e.file!.digest) {
        throw new OciError(`${e.file!.path} does not match its digest ${e.file!.digest} (corrupted or tampered)`);
      }
    }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await fh.write(Buffer.alloc(pad));
  }
  await fh.write(Buffer.alloc(BLOCK * 2));
}

export interface TarEntry {
  name: string;
  type: 'file' | 'dir';
  data: Buffer;
}

function readString(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
}

function readOctal(b: Buffer, off: number, len: number, what: string): number {
  const field = b.subarray(off, off + len);
  if (field[0] & 0x80) {
    // base-256 (GNU) big number
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i];
    return n;
  }
  const s = readString(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new OciError(`malformed tar archive: bad ${what} field`);
  return parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(data.subarray(i, sp).toString(), 10);
    if (!len || len <= 0) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Make an entry name relative and safe. Throws on absolute paths and on any `..` component: such an entry would
 * escape the directory it is unpacked into.
 */
export function safeEntryName(raw: string): string {
  if (raw.startsWith('/')) throw new OciError(`refusing archive entry "${raw}": absolute path escapes the layout`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new OciError(`refusing archive entry "${raw}": ".." escapes the layout`);
  return parts.join('/');
}

/** Size, type and full name (ustar prefix joined) of a header block whose checksum is right. */
function parseHeader(h: Buffer): { size: number; type: string; name: string } {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (readOctal(h, 148, 8, 'checksum') !== sum) throw new OciError('malformed tar archive: header checksum mismatch');
  const size = readOctal(h, 124, 12, 'size');
  const type = String.fromCharCode(h[156] || 0x30);
  let name = readString(h, 0, 100);
  if (readString(h, 257, 6).startsWith('ustar')) {
    const prefix = readString(h, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return { size, type, name };
}

/** The safe name of an entry an image archive may hold (files and directories); links and devices are refused. */
function acceptedEntryName(h: Buffer, type: string, name: string): string {
  if (type === '1' || type === '2') {
    const target = readString(h, 157, 100);
    throw new OciError(`refusing archive entry "${name}": ${type === '2' ? 'symbolic' : 'hard'} link to "${target}" is not allowed in an image archive`);
  }
  if (type !== '0' && type !== '5' && type !== '7') {
    throw new OciError(`refusing archive entry "${name}": unsupported entry type "${type}" (only regular files are allowed)`);
  }
  return safeEntryName(name);
}

/**
 * Parse a tar (optionally gzip-compressed) archive held in memory. Only regular files and directories are
 * accepted: links, devices and FIFOs are refused, as are names that escape the archive root.
 */
export function readTar(input: Buffer): TarEntry[] {
  let buf = input;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib().gunzipSync(buf);
    } catch {
      throw new OciError('malformed archive: bad gzip data');
    }
  }
  const entries: TarEntry[] = [];
  let off = 0;
  let paxNext: Record<string, string> = {};
  let longName: string | undefined;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const { size, type, name: headerName } = parseHeader(h);
    let name = headerName;
    const dataStart = off + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > buf.length) throw new OciError('malformed tar archive: truncated entry');
    const data = buf.subarray(dataStart, dataEnd);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x') {
      paxNext = parsePax(data);
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (paxNext.path !== undefined) name = paxNext.path;
    if (longName !== undefined) name = longName;
    paxNext = {};
    longName = undefined;

    const safe = acceptedEntryName(h, type, name);
    if (type === '5') {
      entries.push({ name: safe, type: 'dir', data: Buffer.alloc(0) });
    } else {
      if (!safe) throw new OciError(`refusing archive entry "${name}": empty file name`);
      entries.push({ name: safe, type: 'file', data: Buffer.from(data) });
    }
  }
  return entries;
}

/** Bytes pulled on demand from an async source, so that entries can be read without holding the archive. */
class ByteSource {
  private chunks: Buffer[] = [];
  private have = 0;
  private ended = false;
  private readonly it: AsyncIterator<Buffer>;
  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }
  private async fill(n: number): Promise<boolean> {
    while (this.have < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length) {
        this.chunks.push(r.value);
        this.have += r.value.length;
      }
    }
    return this.have >= n;
  }
  /** Up to `max` bytes (at least one), or undefined at the end of the source. */
  private async next(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill(1))) return undefined;
    const first = this.chunks[0];
    if (first.length <= max) {
      this.chunks.shift();
      this.have -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(max);
    this.have -= max;
    return first.subarray(0, max);
  }
  /** Exactly n bytes, or undefined when the source ends first. */
  async take(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) off += (await this.next(n - off))!.copy(out, off);
    return out;
  }
  /** The next n bytes as chunks; throws when the source ends first. */
  async *slice(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      const c = await this.next(Math.min(n, 1 << 20));
      if (!c) throw new OciError('malformed tar archive: truncated entry');
      n -= c.length;
      yield c;
    }
  }
  async skip(n: number): Promise<void> {
    for await (const c of this.slice(n)) void c;
  }
}

export interface TarStreamEntry {
  name: string;
  type: 'file' | 'dir';
  size: number;
  /** The entry's bytes; whatever the consumer leaves unread is skipped before the next entry. */
  body: AsyncIterable<Buffer>;
}

/** Metadata entries (pax headers, GNU long names) are small; a large one is an attack, not a name. */
const MAX_META_ENTRY = 1 << 20;

/**
 * Read a tar archive (already decompressed) entry by entry from a stream, with the same refusals as readTar:
 * links, devices, FIFOs and names that escape the archive root.
 */
export async function* readTarStream(source: AsyncIterable<Buffer>): AsyncGenerator<TarStreamEntry> {
  const src = new ByteSource(source);
  let paxNext: Record<string, string> = {};
  let longName: string | undefined;
  for (;;) {
    const h = await src.take(BLOCK);
    if (!h || h.every((b) => b === 0)) return;
    const { size, type, name: headerName } = parseHeader(h);
    if (!Number.isSafeInteger(size)) throw new OciError('malformed tar archive: bad size field');
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    let name = headerName;
    if (type === 'x' || type === 'L' || type === 'g') {
      if (size > MAX_META_ENTRY) throw new OciError(`malformed tar archive: ${size}-byte header entry`);
      const data = await src.take(padded);
      if (!data) throw new OciError('malformed tar archive: truncated entry');
      if (type === 'x') paxNext = parsePax(data.subarray(0, size));
      else if (type === 'L') longName = readString(data, 0, size);
      continue;
    }
    if (paxNext.path !== undefined) name = paxNext.path;
    if (longName !== undefined) name = longName;
    paxNext = {};
    longName = undefined;
    const safe = acceptedEntryName(h, type, name);
    if (type !== '5' && !safe) throw new OciError(`refusing archive entry "${name}": empty file name`);
    let consumed = 0;
    const body = (async function* () {
      for await (const c of src.slice(size)) {
        consumed += c.length;
        yield c;
      }
    })();
    yield { name: safe, type: type === '5' ? 'dir' : 'file', size, body };
    await src.skip(size - consumed + (padded - size));
  }
}
