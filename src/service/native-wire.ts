// The daemon's batch frames written natively (src/bpf/wire-batch.ts, native/src/wire_batch.c): the same bytes as
// the packet encoder's, without a getter call or a tagged write per event. Every value the frame carries after
// the records must follow from record bytes (a declared derivation, as render plans require) or be a wall-clock
// text; otherwise the data source keeps the JS encoder. A value whose key is new (a first process, container,
// user, second) is computed once by its getter and kept by the native side; until then that batch waits for it.
import { WireBatchWriter, WireValueKind, type WireValue } from '../bpf/wire-batch.js';
import { encodeValue, type PacketEncoder } from '../datasource/codec.js';
import { Batch, Kind, type DataSource, type Field } from '../datasource/index.js';
import { leafKey, plainStatic, PlanError } from '../operators/cli/native-plan.js';

/**
 * How often the memo answers with a TTL are filled again from a reader frame's record, as a share of the shortest
 * TTL: well before they expire, so a storm's records keep finding them.
 */
const REFRESH_SHARE = 0.5;

export class NativeBatchEncoder {
  /** Values whose keys' meaning changed (containers came or went): unsubscribe at the end of the run. */
  private readonly offs: (() => void)[] = [];
  private disabled: string | undefined;
  /** The memo values whose answers expire (ttlMs > 0), and how often refreshFrom fills them again (0: never). */
  private readonly expiring: number[];
  private readonly refreshMs: number;
  private refreshedAt = 0;

  private constructor(private readonly w: WireBatchWriter, private readonly ds: DataSource, private readonly values: readonly Field[], private readonly kinds: WireValue[], private readonly fallback: PacketEncoder, private readonly recordBytes: number) {
    this.expiring = kinds.flatMap((k, v) => (k.kind === WireValueKind.Memo && k.ttlMs > 0 ? [v] : []));
    const ttl = Math.min(...this.expiring.map((v) => (kinds[v] as { ttlMs: number }).ttlMs));
    this.refreshMs = this.expiring.length && process.env.IG_WIRE_REFRESH !== '0' ? ttl * REFRESH_SHARE : 0;
  }

  /**
   * A native encoder for `ds` on the stream `enc` writes (its table is sent already), or why there is none. The
   * frames it returns are those `enc.encode(b)` would.
   */
  static create(enc: PacketEncoder, ds: DataSource): NativeBatchEncoder | { reason: string } {
    const t = enc.tableOf(ds);
    if (!t) return { reason: `${ds.name}: no field table sent yet` };
    const kinds: WireValue[] = [];
    const invalidations: [number, (cb: () => void) => () => void][] = [];
    try {
      t.valueFields.forEach((f, v) => {
        const d = f.derivation;
        if (d?.kind === 'wallclock-text') {
          const r = plainStatic(d.input);
          if (!r || r.size !== 8) throw new PlanError(`${f.fullName}: timestamp source is not a u64 member`);
          kinds.push({ kind: WireValueKind.WallText, offs: r.offs });
          return;
        }
        const k = leafKey([f], f.fullName);
        kinds.push({ kind: WireValueKind.Memo, ttlMs: k.ttlMs, ranges: k.ranges });
        if (k.onChange) invalidations.push([v, k.onChange]);
      });
    } catch (e) {
      if (e instanceof PlanError) return { reason: e.message };
      throw e;
    }
    const n = new NativeBatchEncoder(new WireBatchWriter({ dsId: t.id, recordBytes: t.recordBytes, values: kinds }), ds, t.valueFields, kinds, enc, t.recordBytes);
    for (const [v, on] of invalidations) n.offs.push(on(() => n.w.clear(v)));
    return n;
  }

  /** The record ranges its memos are keyed by (their bytes must reach the memos as they are). */
  get keyRanges(): [number, number][] {
    return this.kinds.flatMap((k) => (k.kind === WireValueKind.Memo ? k.ranges : []));
  }

  /** Its writer: a reader can write this data source's frames on its own thread with the same memos. */
  get writer(): WireBatchWriter { return this.w; }

  /** Why this encoder handed its data source back to the JS encoder, if it did. */
  get disabledBecause(): string | undefined { return this.disabled; }

  /** The batch frame of `b`'s live records. */
  encode(b: Batch): Buffer {
    if (this.disabled) return this.fallback.encode(b);
    const n = b.liveCount;
    let r = this.w.encode(b.buf, b.offs, b.lens, b.live, n);
    if (Buffer.isBuffer(r)) return r;
    for (let j = 0; j < r.length; j += 2) {
      const v = r[j]!;
      // A record shorter than a key's bytes: the getters read past it; the JS encoder does what they do.
      if (v < 0) return this.fallback.encode(b);
      if (!this.fill(v, b, b.live[r[j + 1]!]!)) return this.fallback.encode(b);
    }
    r = this.w.encode(b.buf, b.offs, b.lens, b.live, n);
    // Still missing: a memo emptied while filling (thousands of keys in one batch).
    return Buffer.isBuffer(r) ? r : this.fallback.encode(b);
  }

  /**
   * A frame the reader thread wrote (`frame`, its records found every value in the memos): every so often the memo
   * answers that expire (a TTL: a process's executable, user and group names, container fields) are computed again
   * by their getters for the frame's first record and filled, before they expire.
   * Why: an expired answer is a miss on the reader thread, which hands the next records to JS and waits until JS
   * has filled the memo (two extra frames and ~1.6 ms of the JS thread each time, about once a second under a
   * storm). Answers stay at most one TTL old, as before; records of other keys still miss when theirs expire.
   */
  refreshFrom(frame: Buffer, now = performance.now()): void {
    if (!this.refreshMs || this.disabled || now - this.refreshedAt < this.refreshMs) return;
    this.refreshedAt = now;
    const rec = firstRecord(frame, this.recordBytes);
    if (!rec) return;
    const b = new Batch(this.ds, rec, Uint32Array.of(0), Uint32Array.of(rec.length), 1);
    // A getter that fails here fails again on the miss, where the run reports it: the answer just expires.
    try { for (const v of this.expiring) this.fill(v, b, 0); } catch { /* see above */ }
  }

  private fill(v: number, b: Batch, i: number): boolean {
    const f = this.values[v]!;
    const value = f.get(b, i);
    const bytes = encodeValue(value, f);
    const kind = this.kinds[v]!;
    if (kind.kind !== WireValueKind.WallText) {
      this.w.fill(v, b.buf, b.offs[i]!, bytes);
      return true;
    }
    // The text's 9 nanosecond digits, before the time zone ("Z" or "+hh:mm"): other layouts stay in JS.
    const s = typeof value === 'string' ? value : '';
    const frac = String(b.buf.readBigUInt64LE(b.offs[i]! + kind.offs) % 1000000000n).padStart(9, '0');
    const at = s.length - frac.length - (s.endsWith('Z') ? 1 : 6);
    if (at < 0 || s.slice(at, at + 9) !== frac || Buffer.byteLength(s) !== s.length) {
      this.disabled = `${f.fullName}: timestamp text "${s}" has no 9-digit fraction`;
      return false;
    }
    this.w.fill(v, b.buf, b.offs[i]!, bytes, bytes.length - s.length + at);
    return true;
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
    this.w.close();
    this.disabled ??= 'closed';
  }
}

/**
 * The bytes of the first record of batch frame `frame` (docs/packet-format.md: header, data source, count, then per
 * record its length, encoded length and segments of literal bytes and zero runs), at least `recordBytes` long;
 * undefined when the frame does not parse.
 */
export function firstRecord(frame: Buffer, recordBytes: number): Buffer | undefined {
  let at = 8;
  const uvar = (): number => {
    let v = 0;
    for (let shift = 0; at < frame.length && shift < 35; shift += 7) {
      const b = frame[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return -1;
  };
  if (frame.length < 8 || uvar() < 0 || uvar() < 1) return undefined;
  const len = uvar();
  if (len < 0 || at + 4 > frame.length) return undefined;
  const end = at + 4 + frame.readUInt32LE(at);
  at += 4;
  if (end > frame.length) return undefined;
  const rec = Buffer.alloc(Math.max(len, recordBytes));
  for (let p = 0; at < end;) {
    const lit = uvar();
    if (lit < 0 || at + lit > end || p + lit > rec.length) return undefined;
    frame.copy(rec, p, at, at + lit);
    at += lit;
    const zeros = uvar();
    if (zeros <= 0) break;
    p += lit + zeros;
  }
  return rec;
}

/**
 * The boot-clock members of `ds` the formatters rewrite to wall clock in place (derivation wallclock-ns), as a
 * reader's frame writer takes them: (u32 offset, u32 0, u64 addend) entries.
 */
export function clockRewrites(ds: DataSource): Buffer {
  const fields = ds.fields.filter((f) => f.derivation?.kind === 'wallclock-ns' && f.storage.type === 'static');
  const out = Buffer.alloc(16 * fields.length);
  fields.forEach((f, k) => {
    const d = f.derivation as { kind: 'wallclock-ns'; offsetNs: bigint };
    out.writeUInt32LE((f.storage as { offs: number }).offs, 16 * k);
    out.writeBigUInt64LE(BigInt.asUintN(64, d.offsetNs), 16 * k + 8);
  });
  return out;
}

/** Entry kind of a string tail in a reader's record fixes (native/src/wire_batch.h IG_WFIX_STRING_TAIL). */
const FIX_STRING_TAIL = 1;

/**
 * The char arrays of `ds` whose bytes after the first NUL a reader's frame writer may clear (wire_stream.c): static
 * string members read only as C strings (up to that NUL), with no ancestor that reads the record's bytes, no other
 * static field, memo key (`keyRanges`) or clock member over their bytes. Under a storm the kernel leaves older
 * records' bytes there, which no field reads but the wire would carry.
 */
export function stringTails(ds: DataSource, keyRanges: readonly [number, number][]): [number, number][] {
  const statics = ds.fields.filter((f) => f.storage.type === 'static');
  const overlaps = (o: number, n: number, p: number, m: number) => o < p + m && p < o + n;
  const out: [number, number][] = [];
  for (const f of statics) {
    if ((f.kind !== Kind.CString && f.kind !== Kind.String) || !f.readsStorage || f.size < 2) continue;
    const { offs, size } = f.storage as { offs: number; size: number };
    let ok = true;
    for (let p = f.parent; p && ok; p = p.parent) if (p.storage.type !== 'empty') ok = false;
    for (const g of statics) if (ok && g !== f && !isAncestor(g, f) && overlaps(offs, size, (g.storage as { offs: number }).offs, g.size)) ok = false;
    for (const [o, n] of keyRanges) if (ok && overlaps(offs, size, o, n)) ok = false;
    for (const c of ds.fields) if (ok && c.derivation?.kind === 'wallclock-ns' && c.storage.type === 'static' && overlaps(offs, size, c.storage.offs, 8)) ok = false;
    if (ok) out.push([offs, size]);
  }
  return out;
}

function isAncestor(a: Field, f: Field): boolean {
  for (let p = f.parent; p; p = p.parent) if (p === a) return true;
  return false;
}

/** A reader's record fixes (wireClock): the clock rewrites, then the string tails to clear. */
export function recordFixes(ds: DataSource, keyRanges: readonly [number, number][]): Buffer {
  const clock = clockRewrites(ds);
  const tails = process.env.IG_WIRE_TAILS === '0' ? [] : stringTails(ds, keyRanges);
  const out = Buffer.alloc(clock.length + 16 * tails.length);
  clock.copy(out);
  tails.forEach(([offs, size], k) => {
    const at = clock.length + 16 * k;
    out.writeUInt32LE(offs, at);
    out.writeUInt32LE(FIX_STRING_TAIL, at + 4);
    out.writeBigUInt64LE(BigInt(size), at + 8);
  });
  return out;
}
