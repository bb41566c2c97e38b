// Compile the JSON encoder of a data source into a native render plan (native/src/render_plan.c), so that the
// reader's poll thread writes the lines itself and the JS thread sees no record in the common case.
//
// The plan walks the same field tree as the JS encoder (json.ts) and must give byte-identical lines:
// static integers, booleans and C strings become native ops; everything an operator computes in JS becomes a
// memo whose fragment the JS encoder renders the first time a key is seen (the field's declared Derivation). A field
// with no native form makes the whole data source stay on the JS path.
import { RenderPlan } from '../../bpf/render-plan.js';
import { Kind, baseKind, isArrayKind, isIntegerKind, isSignedKind, scalarSize, type Batch, type Field, type Derivation, type Predicate, type Invalidation, type KernelTextSource } from '../../datasource/index.js';
import { buildTree, encodeNode, valueWriter, type Node } from './json.js';
import { cellText, fit, type Column } from './columns.js';

const OP = {
  LIT: 1, UINT: 2, SINT: 3, BOOL: 4, CSTR: 5, WALL_U64: 6, WALL_STR: 7, MEMO: 8, TRIM_END: 9,
  COL_UINT: 10, COL_SINT: 11, COL_BOOL: 12, COL_CSTR: 13, COL_WALL_STR: 14,
  FILTER: 19, F_AND: 20, F_OR: 21, F_NOT: 22, F_CONST: 23, F_UINT: 24, F_SINT: 25, F_BOOL: 26, F_STR: 27, F_MEMO: 28,
  JOINED: 40, COL_JOINED: 41, ZERO_SPAN: 42,
} as const;
/** A struct rendered as one cached piece when its bytes are all zero has at least this many values (below, the check costs what it saves). */
const ZERO_SPAN_MIN_VALUES = 6;
const CMP: Record<string, number> = { '==': 0, '!=': 1, '<': 2, '<=': 3, '>': 4, '>=': 5, startsWith: 6, endsWith: 7, contains: 8 };
const COL_RIGHT = 1;
const COL_LAST = 2;
const COL_HEX = 16;
/** A boot-clock u64 printed as wall-clock ns (the JS batch has it rewritten in place; the reader's has not). */
const COL_WALL = 32;
const ELLIPSIS: Record<Column['ellipsis'], number> = { end: 0, start: 1, middle: 2, none: 3 };
/** Longest string member a native column cell renders (render_plan.c COL_TEXT_MAX). */
const COL_TEXT_MAX = 4096;
/** Largest char array a native joined-strings cell renders (render_plan.c COL_JOINED_MAX). */
const COL_JOINED_MAX = 65536;
const MEMO_KEY_MAX = 64;

/** A fragment's text; null: none can be kept for this key (the record is always left to JS). */
type Writer = (b: Batch, i: number) => string | null;

interface MemoSpec {
  ranges: [number, number][];   // record byte ranges of the key; none: wall-clock seconds of `wallOffs`
  ttlMs: number;
  fragment: Writer;
  wallOffs?: number;            // timestamp memos: where the (already rewritten) wall-clock ns is in JS batches
  wallOffsetNs?: bigint;        // timestamp memos: what the rewrite adds to the boot-clock ns (0 stays 0)
  onChange?: (cb: () => void) => () => void;
  /** A filter leaf's answer ("1"/"0"): filled from every record JS sees before the filter drops any. */
  filter?: boolean;
  /** A kernel map that answers misses on the reader thread (a string value's JSON text: leaves only). */
  kernelText?: KernelTextSource;
}

export interface NativePlan {
  plan: RenderPlan;
  /**
   * Fill the memos from a batch JS rendered (the records the plan missed on). `refreshOnly`: the records did not
   * go through the pipeline (refresh batches), so their timestamps are still boot-clock: skip those memos; the
   * filter's memos are filled from them too.
   */
  fill(b: Batch, refreshOnly?: boolean): void;
  /**
   * Fill every memo the plan may need for the records of a raw batch (the reader's BATCH_MEMO: records it missed
   * on and renders itself afterwards), the timestamps' too: their wall-clock seconds are rewritten in `b` first,
   * as the formatters would. `b` must not be used for anything else afterwards.
   */
  fillMissed(b: Batch): void;
  /** The plan's filter has memos: fill them from a batch before the filter drops records (fillFilter). */
  readonly filterMemos: boolean;
  /** Fill the filter's memos from every live record of `b` (called before the filter runs). */
  fillFilter(b: Batch): void;
  /** Stop following the state the memos depend on. */
  dispose(): void;
}

export class PlanError extends Error {}

/** A static member read as is: its byte range, or undefined when its value is not its bytes. */
/**
 * Annotations of a char array whose NUL-separated parts the gadget's WASM module joins (`strings.joined.*`,
 * gadget.yaml): the separator, and the fields holding the bytes used and the number of parts. Declared by the
 * gadget so that the reader thread can render what the module would write (native/src/joined_strings.c).
 */
export const JOINED_SEPARATOR = 'strings.joined.separator';
export const JOINED_LENGTH = 'strings.joined.length';
export const JOINED_COUNT = 'strings.joined.count';

export function plainStatic(f: Field): { offs: number; size: number } | undefined {
  const s = f.storage;
  if (s.type !== 'static' || s.bitSize || !f.readsStorage) return undefined;
  if (f.annotation(JOINED_SEPARATOR) !== undefined) return undefined; // shown joined (by a module), not as its bytes
  return { offs: s.offs, size: s.size };
}

function keyRanges(fields: Field[], what: string): [number, number][] {
  const ranges: [number, number][] = [];
  let total = 0;
  for (const k of fields) {
    const r = plainStatic(k);
    if (!r) throw new PlanError(`${what}: key field ${k.fullName} is not a plain record member`);
    ranges.push([r.offs, r.size]);
    total += r.size;
  }
  if (ranges.length === 0 || ranges.length > 8 || total > MEMO_KEY_MAX) throw new PlanError(`${what}: unusable memo key`);
  return ranges;
}

/**
 * What a field's value follows from: its own derivation, or for a derived leaf under a parent that declares one
 * for its whole subtree (container fields), the parent's.
 */
export function derivationOf(f: Field): Derivation | undefined {
  if (f.derivation) return f.derivation;
  if (f.storage.type !== 'derived') return undefined;
  for (let p = f.parent; p; p = p.parent) if (p.subtreeKey && p.derivation?.kind === 'computed') return p.derivation;
  return undefined;
}

/** The memo key of a leaf over `fields`: their own bytes, or for derived fields the bytes they follow from. */
export function leafKey(fields: Field[], what: string): { ranges: [number, number][]; ttlMs: number; onChange?: Invalidation } {
  const ranges: [number, number][] = [];
  let ttlMs = 0;
  const invs: Invalidation[] = [];
  const add = (f: Field) => {
    const d = derivationOf(f);
    if (d?.kind === 'wallclock-ns' || d?.kind === 'wallclock-text') throw new PlanError(`${what}: ${f.fullName} is a timestamp`);
    if (d?.kind === 'computed') {
      for (const r of keyRanges(d.inputs, what)) if (!ranges.some(([o, l]) => o === r[0] && l === r[1])) ranges.push(r);
      if (d.ttlMs && (!ttlMs || d.ttlMs < ttlMs)) ttlMs = d.ttlMs;
      if (d.invalidation) invs.push(d.invalidation);
      return;
    }
    const r = plainStatic(f);
    if (!r) throw new PlanError(`${what}: ${f.fullName} has no native form`);
    if (!ranges.some(([o, l]) => o === r.offs && l === r.size)) ranges.push([r.offs, r.size]);
  };
  for (const f of fields) add(f);
  const total = ranges.reduce((n, [, l]) => n + l, 0);
  if (ranges.length === 0 || ranges.length > 8 || total > MEMO_KEY_MAX) throw new PlanError(`${what}: its input is ${total} bytes (at most ${MEMO_KEY_MAX} can key a memo)`);
  const onChange: Invalidation | undefined = invs.length === 0 ? undefined : invs.length === 1 ? invs[0] : (cb) => {
    const offs = invs.map((inv) => inv(cb));
    return () => { for (const o of offs) o(); };
  };
  return { ranges, ttlMs, onChange };
}

function u64Bytes(v: bigint, signed: boolean): Buffer {
  const b = Buffer.alloc(8);
  if (signed) b.writeBigInt64LE(v); else b.writeBigUInt64LE(v);
  return b;
}

/**
 * The bytes [lo, hi) of a struct whose every shown value follows from them alone (plain integer, boolean and string
 * members, memos keyed by them without a TTL or an invalidation), when it has enough values to be worth rendering
 * as one cached piece while they are all zero (render_plan.c OP_ZERO_SPAN); undefined otherwise.
 */
function zeroSpan(n: Node): [number, number] | undefined {
  let lo = Infinity, hi = -Infinity, values = 0;
  const take = (o: number, l: number) => { lo = Math.min(lo, o); hi = Math.max(hi, o + l); };
  const walk = (x: Node): boolean => {
    for (const c of x.children) {
      if (c.children.length > 0) {
        if (c.field?.subtreeKey || !walk(c)) return false;
        continue;
      }
      const f = c.field;
      if (!f || f.isEmpty) continue;
      values++;
      if (f.annotation(JOINED_SEPARATOR) !== undefined || isArrayKind(f.kind)) return false;
      const d = derivationOf(f);
      if (d) {
        if (d.kind !== 'computed' || d.ttlMs || d.invalidation || d.kernelText) return false;
        for (const k of d.inputs) {
          const r = plainStatic(k);
          if (!r || k.derivation) return false;
          take(r.offs, r.size);
        }
        continue;
      }
      const r = plainStatic(f);
      const kind = baseKind(f.kind);
      if (!r || !(kind === Kind.Bool || kind === Kind.CString || kind === Kind.String || isIntegerKind(kind))) return false;
      take(r.offs, r.size);
    }
    return true;
  };
  if (!walk(n) || values < ZERO_SPAN_MIN_VALUES || !(hi > lo) || hi - lo > 4096) return undefined;
  return [lo, hi];
}

class PlanBuilder {
  /** Compiling a zero span's struct (spans do not nest). */
  inZeroSpan = false;
  /** the data source's fields by full name (length and count fields of joined strings) */
  byName = new Map<string, Field>();
  readonly parts: (string | number[])[] = [];
  readonly memos: MemoSpec[] = [];
  wallOffsetNs: bigint | undefined;
  /** Binary constants (filter values, column formats): the start of the literal pool. */
  readonly blobs: Buffer[] = [];
  blobLen = 0;
  filterOps: number[] = [];

  blob(b: Buffer): number {
    const at = this.blobLen;
    // 4-aligned so that the C side may read u32s from it in place
    const padded = Buffer.alloc((b.length + 3) & ~3);
    b.copy(padded);
    this.blobs.push(padded);
    this.blobLen += padded.length;
    return at;
  }

  /** The predicate as ops in prefix order (AND/OR/NOT carry the size of their subtree). */
  predicate(p: Predicate): number[][] {
    switch (p.kind) {
      case 'const': return [[OP.F_CONST, p.value ? 1 : 0, 0, 0]];
      case 'and': case 'or': case 'not': {
        const args = p.kind === 'not' ? [p.arg] : p.args;
        const kids = args.flatMap((a) => this.predicate(a));
        return [[p.kind === 'and' ? OP.F_AND : p.kind === 'or' ? OP.F_OR : OP.F_NOT, args.length, kids.length + 1, 0], ...kids];
      }
      case 'cmp': {
        const leaf = this.cmpLeaf(p);
        if (leaf) return [leaf];
        return [this.memoLeaf([p.field], `filter on ${p.field.fullName}`, p.test)];
      }
      case 'strmatch': {
        const leaf = this.strLeaf(p.field, CMP[p.op]!, p.value);
        if (leaf) return [leaf];
        return [this.memoLeaf([p.field], `filter on ${p.field.fullName}`, p.test)];
      }
      case 'opaque': return [this.memoLeaf(p.fields, `filter ${JSON.stringify(p.what)}`, p.test)];
    }
  }

  /** A comparison of a record member with a constant, evaluated on the bytes; undefined: the member's value is not its bytes. */
  private cmpLeaf(p: Extract<Predicate, { kind: 'cmp' }>): number[] | undefined {
    const f = p.field;
    const r = plainStatic(f);
    if (!r || f.derivation || isArrayKind(f.kind)) return undefined;
    const kind = baseKind(f.kind);
    const cmp = CMP[p.op]!;
    if (isIntegerKind(kind) && typeof p.value === 'bigint') {
      if (r.size !== scalarSize(kind)) return undefined;
      const signed = isSignedKind(kind);
      const bits = BigInt(8 * r.size);
      const min = signed ? -(1n << (bits - 1n)) : 0n;
      const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
      // A constant out of the member's range decides alone (the JS filter compares exact values too).
      if (p.value < min || p.value > max) {
        const above = p.value > max; // every value is below the constant
        const yes = p.op === '!=' || (above ? p.op === '<' || p.op === '<=' : p.op === '>' || p.op === '>=');
        return [OP.F_CONST, yes ? 1 : 0, 0, 0];
      }
      return [signed ? OP.F_SINT : OP.F_UINT, r.offs, r.size | (cmp << 24), this.blob(u64Bytes(p.value, signed))];
    }
    if (kind === Kind.Bool && typeof p.value === 'boolean' && (p.op === '==' || p.op === '!=')) {
      return [OP.F_BOOL, r.offs, cmp << 24, p.value ? 1 : 0];
    }
    if (typeof p.value === 'string') return this.strLeaf(f, cmp, p.value);
    return undefined;
  }

  /** A string member compared with (or searched for) a constant, on its decoded bytes. */
  private strLeaf(f: Field, cmp: number, value: string): number[] | undefined {
    const r = plainStatic(f);
    const kind = baseKind(f.kind);
    if (!r || f.derivation || isArrayKind(f.kind) || (kind !== Kind.CString && kind !== Kind.String) || r.size <= 0 || r.size > 65536) return undefined;
    // A lone surrogate has no UTF-8 form: the bytes would not say what the JS string comparison says.
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) return undefined;
    const t = Buffer.from(value, 'utf8');
    const lit = Buffer.alloc(4 + t.length);
    lit.writeUInt32LE(t.length, 0);
    t.copy(lit, 4);
    return [OP.F_STR, r.offs, r.size | (cmp << 24), this.blob(lit)];
  }

  /** A leaf JS answers once per input: a memo of "1"/"0" keyed by the bytes its fields follow from. */
  private memoLeaf(fields: Field[], what: string, test: (b: Batch, i: number) => boolean): number[] {
    const k = leafKey(fields, what);
    const m = this.memo({ ranges: k.ranges, ttlMs: k.ttlMs, onChange: k.onChange, filter: true, fragment: (b, i) => (test(b, i) ? '1' : '0') });
    return [OP.F_MEMO, m, 0, 0];
  }

  /** Keep only the records every predicate matches. */
  filter(preds: Predicate[]): void {
    if (preds.length === 0) return;
    const root: Predicate = preds.length === 1 ? preds[0]! : { kind: 'and', args: preds };
    this.filterOps = this.predicate(root).flat();
  }

  /** A column cell (columns.ts cellText + fit). */
  cell(c: Column, last: boolean): void {
    const v = c.value;
    const flags = (c.right ? COL_RIGHT : 0) | (last ? COL_LAST : 0) | (ELLIPSIS[c.ellipsis] << 2) | (c.hex ? COL_HEX : 0);
    const fmt = (extra = 0) => {
      const b = Buffer.alloc(12);
      b.writeUInt32LE(c.width, 0);
      b.writeUInt32LE(c.maxCells, 4);
      b.writeUInt32LE(flags | extra, 8);
      return this.blob(b);
    };
    const sep = v.annotation(JOINED_SEPARATOR);
    if (sep !== undefined) {
      // the parts joined with the separator's own bytes, then fitted as a string cell
      const st = v.storage as { offs: number; size: number };
      if (st.size > COL_JOINED_MAX) throw new PlanError(`${v.fullName}: joined strings longer than ${COL_JOINED_MAX} bytes are rendered in JS`);
      const f = Buffer.alloc(12);
      f.writeUInt32LE(c.width, 0);
      f.writeUInt32LE(c.maxCells, 4);
      f.writeUInt32LE(flags, 8);
      this.op(OP.COL_JOINED, st.offs, st.size, this.blob(Buffer.concat([f, this.joinedDescriptor(v, sep, Buffer.from(sep, 'utf8'))])));
      return;
    }
    const vd = derivationOf(v);
    if (vd?.kind === 'wallclock-text') {
      // The text per wall-clock second from JS (a memo, as for JSON), the nanoseconds written natively.
      const r = plainStatic(vd.input);
      if (!r || r.size !== 8) throw new PlanError(`${v.fullName}: timestamp source is not a u64 member`);
      this.wallOffset(vd.offsetNs);
      const offs = r.offs;
      const fragment: Writer = (b, i) => {
        const s = cellText(c, b, i);
        const frac = String(Number(b.buf.readBigUInt64LE(b.offs[i]! + offs) % 1000000000n)).padStart(9, '0');
        const at = s.length - frac.length - (s.endsWith('Z') ? 1 : 6);
        // printable ASCII only: the cell is fitted as one byte per character
        return at > 0 && s.slice(at, at + 9) === frac && /^[\x20-\x7e]*$/.test(s) ? `${s.slice(0, at)}\0${s.slice(at + 9)}` : '';
      };
      this.op(OP.COL_WALL_STR, r.offs, this.memo({ ranges: [], ttlMs: 0, fragment, wallOffs: offs, wallOffsetNs: vd.offsetNs }), fmt());
      return;
    }
    if (vd?.kind === 'wallclock-ns') {
      const r = plainStatic(v);
      if (!r || r.size !== 8 || v.kind !== Kind.Uint64) throw new PlanError(`${v.fullName}: wall-clock field is not a u64 member`);
      this.wallOffset(vd.offsetNs);
      this.op(OP.COL_UINT, r.offs, 8, fmt(COL_WALL));
      return;
    }
    if (vd?.kind === 'computed') {
      const text: Writer = (b, i) => {
        const cell = fit(cellText(c, b, i), c, last);
        // The row is trimEnd()ed: a cell ending in whitespace other than spaces could change that: leave it to JS.
        const spaceless = cell.replace(/ +$/, '');
        return spaceless.trimEnd() === spaceless ? cell : null;
      };
      this.memoOp(vd, `${c.field.fullName} (column)`, text);
      return;
    }
    const r = plainStatic(v);
    if (!r || v.derivation) throw new PlanError(`${v.fullName}: no native form`);
    if (isArrayKind(v.kind)) throw new PlanError(`${v.fullName}: arrays are rendered in JS`);
    const kind = baseKind(v.kind);
    if (isIntegerKind(kind) && r.size === scalarSize(kind)) {
      this.op(isSignedKind(kind) ? OP.COL_SINT : OP.COL_UINT, r.offs, r.size, fmt());
      return;
    }
    if (kind === Kind.Bool) { this.op(OP.COL_BOOL, r.offs, 1, fmt()); return; }
    if ((kind === Kind.CString || kind === Kind.String) && r.size > 0 && r.size <= COL_TEXT_MAX) {
      this.op(OP.COL_CSTR, r.offs, r.size, fmt());
      return;
    }
    throw new PlanError(`${v.fullName}: kind ${kind} is rendered in JS`);
  }

  lit(s: string): void { this.parts.push(s); }
  op(...o: number[]): void { this.parts.push(o); }

  memo(m: MemoSpec): number {
    this.memos.push(m);
    return this.memos.length - 1;
  }

  /** A value (or subtree) an operator computes in JS: a memo keyed by the derivation's inputs, filled by `fragment`. */
  memoOp(d: Derivation | undefined, what: string, fragment: Writer, kernelText?: KernelTextSource): void {
    if (d?.kind !== 'computed') throw new PlanError(`${what}: no native key`);
    this.op(OP.MEMO, this.memo({ ranges: keyRanges(d.inputs, what), ttlMs: d.ttlMs ?? 0, fragment, onChange: d.invalidation, kernelText }), 0, 0);
  }

  wallOffset(ns: bigint): void {
    if (this.wallOffsetNs !== undefined && this.wallOffsetNs !== ns) throw new PlanError('timestamps with different clock offsets');
    this.wallOffsetNs = ns;
  }

  /** A char array shown as its parts joined (the WASM module's declared effect). */
  private joined(f: Field, sep: string): void {
    const s = f.storage as { offs: number; size: number };
    const text = Buffer.from(JSON.stringify(sep).slice(1, -1), 'utf8');
    this.op(OP.JOINED, s.offs, s.size, this.blob(this.joinedDescriptor(f, sep, text)));
  }

  /** joined_strings.h's descriptor of a joined char array; `text`: the separator as written between the parts. */
  private joinedDescriptor(f: Field, sep: string, text: Buffer): Buffer {
    const s = f.storage;
    if (s.type !== 'static' || s.bitSize || f.derivation || (f.kind !== Kind.CString && f.kind !== Kind.String)) throw new PlanError(`${f.fullName}: joined strings of a member that is not a char array`);
    const member = (ann: string): number => {
      const name = f.annotation(ann);
      if (name === undefined) return 0xffffffff;
      const m = this.byName.get(name);
      const ms = m?.storage;
      if (!m || ms?.type !== 'static' || ms.bitSize || ms.size !== 4 || !isIntegerKind(baseKind(m.kind))) throw new PlanError(`${f.fullName}: ${ann} names ${name}, not a 32-bit member`);
      return ms.offs;
    };
    const raw = Buffer.from(sep, 'utf8');
    const d = Buffer.alloc(20 + text.length);
    d.writeUInt32LE(member(JOINED_LENGTH), 0);
    d.writeUInt32LE(member(JOINED_COUNT), 4);
    d.writeUInt32LE(s.size - 1, 8); // the joined text keeps the array's last byte for its NUL
    d.writeUInt32LE(raw.length, 12);
    d.writeUInt32LE(text.length, 16);
    text.copy(d, 20);
    return d;
  }

  leaf(f: Field): void {
    const sep = f.annotation(JOINED_SEPARATOR);
    if (sep !== undefined) { this.joined(f, sep); return; }
    const hint: Derivation | undefined = f.derivation;
    if (hint?.kind === 'wallclock-ns') {
      const r = plainStatic(f);
      if (!r || r.size !== 8 || f.kind !== Kind.Uint64) throw new PlanError(`${f.fullName}: wall-clock field is not a u64 member`);
      this.wallOffset(hint.offsetNs);
      this.op(OP.WALL_U64, r.offs, 0, 0);
      return;
    }
    if (hint?.kind === 'wallclock-text') {
      const r = plainStatic(hint.input);
      if (!r || r.size !== 8) throw new PlanError(`${f.fullName}: timestamp source is not a u64 member`);
      this.wallOffset(hint.offsetNs);
      const text = valueWriter(f);
      const offs = r.offs;
      // Fragment: the text before the 9 digits of ns, NUL, the text after them (the time zone and the quote).
      const fragment: Writer = (b, i) => {
        const s = text(b, i);
        const o = b.offs[i]! + offs;
        const frac = String(Number(b.buf.readBigUInt64LE(o) % 1000000000n)).padStart(9, '0');
        const at = s.length - 1 - frac.length - (s.endsWith('Z"') ? 1 : 6);
        return s.slice(at, at + 9) === frac ? `${s.slice(0, at)}\0${s.slice(at + 9)}` : '';
      };
      this.op(OP.WALL_STR, r.offs, this.memo({ ranges: [], ttlMs: 0, fragment, wallOffs: offs, wallOffsetNs: hint.offsetNs }), 0);
      return;
    }
    if (hint?.kind === 'computed') {
      // a kernel source gives the string's text: JSON-quoted natively, as valueWriter quotes a string
      const kt = hint.kernelText && f.kind === Kind.String && hint.inputs.length === 2 ? hint.kernelText : undefined;
      this.memoOp(hint, f.fullName, valueWriter(f), kt);
      return;
    }
    const r = plainStatic(f);
    if (!r) throw new PlanError(`${f.fullName}: no native form`);
    const kind = baseKind(f.kind);
    if (isArrayKind(f.kind)) throw new PlanError(`${f.fullName}: arrays are rendered in JS`);
    if (f.annotation('content-type') === 'application/json') throw new PlanError(`${f.fullName}: embedded JSON`);
    switch (kind) {
      case Kind.Bool: this.op(OP.BOOL, r.offs, 0, 0); return;
      case Kind.Int8: case Kind.Int16: case Kind.Int32: case Kind.Int64:
        if (r.size !== scalarSize(kind)) break;
        this.op(OP.SINT, r.offs, r.size, 0); return;
      case Kind.Uint8: case Kind.Uint16: case Kind.Uint32: case Kind.Uint64:
        if (r.size !== scalarSize(kind)) break;
        this.op(OP.UINT, r.offs, r.size, 0); return;
      case Kind.String: case Kind.CString:
        if (r.size > 0) { this.op(OP.CSTR, r.offs, r.size, 0); return; }
        break;
      default: break;
    }
    throw new PlanError(`${f.fullName}: kind ${kind} is rendered in JS`);
  }

  /** Mirror of json.ts encodeNode at indent 0. */
  node(n: Node, depth: number): void {
    this.lit('{');
    let first = true;
    for (const c of n.children) {
      const hasChildren = c.children.length > 0;
      if (!hasChildren && (!c.field || c.field.isEmpty)) continue;
      this.lit(`${first ? '' : ','}${JSON.stringify(c.name)}:`);
      first = false;
      if (hasChildren && c.field?.subtreeKey) {
        this.memoOp(c.field.derivation, `${c.field.fullName} (subtree)`, encodeNode(c, depth + 1, 0));
      } else if (hasChildren) {
        const span = this.inZeroSpan ? undefined : zeroSpan(c);
        if (!span) { this.node(c, depth + 1); continue; }
        // [ZERO_SPAN, offset, length, value ops that follow]: the count is known once the struct is compiled
        const z = [OP.ZERO_SPAN, span[0], span[1] - span[0], 0];
        this.op(...z);
        const op = this.parts[this.parts.length - 1] as number[];
        const from = this.parts.length;
        this.inZeroSpan = true;
        this.node(c, depth + 1);
        this.inZeroSpan = false;
        op[3] = this.parts.slice(from).filter((x) => typeof x !== 'string').length;
      } else {
        this.leaf(c.field!);
      }
    }
    this.lit('}');
  }
}

export interface PlanSpec { ops: Int32Array; literals: Buffer; memos: Int32Array; wallOffsetNs: bigint; specs: MemoSpec[] }

/**
 * The plan's arrays for `fields` (what json.ts would print with indent 0). `all`: the fields ops may read without
 * showing them (a joined string's length and count, e.g. trace_exec's args_size under json.skip). Throws PlanError
 * when a field has no native form.
 */
export function planSpec(fields: Field[], preds: Predicate[] = [], all: Field[] = []): PlanSpec {
  const b = new PlanBuilder();
  b.byName = new Map([...all, ...fields].map((f) => [f.fullName, f]));
  b.filter(preds);
  b.node(buildTree(fields), 0);
  return finish(b);
}

/** The plan's arrays for a columns row (what columns.ts rowLine() prints). Throws PlanError when a cell has no native form. */
export function columnsPlanSpec(cols: Column[], preds: Predicate[] = [], all: Field[] = []): PlanSpec {
  const b = new PlanBuilder();
  // members that cells refer to by name (a joined string's length and count) need not be shown
  b.byName = new Map([...all, ...cols.map((c) => c.value)].map((f) => [f.fullName, f]));
  b.filter(preds);
  cols.forEach((c, k) => {
    if (k) b.lit(' ');
    b.cell(c, k === cols.length - 1);
  });
  b.op(OP.TRIM_END, 0, 0, 0);
  return finish(b);
}

function finish(b: PlanBuilder): PlanSpec {
  const lits: Buffer[] = [...b.blobs];
  let litLen = b.blobLen;
  const ops: number[] = b.filterOps.length ? [OP.FILTER, b.filterOps.length / 4, 0, 0, ...b.filterOps] : [];
  let pending = '';
  const flushLit = () => {
    if (!pending) return;
    const bytes = Buffer.from(pending, 'utf8');
    ops.push(OP.LIT, litLen, bytes.length, 0);
    lits.push(bytes);
    litLen += bytes.length;
    pending = '';
  };
  for (const p of b.parts) {
    if (typeof p === 'string') { pending += p; continue; }
    flushLit();
    ops.push(...p);
  }
  flushLit();
  const memoWords: number[] = [b.memos.length];
  for (const m of b.memos) {
    memoWords.push(m.ttlMs, m.ranges.length);
    for (const [o, l] of m.ranges) memoWords.push(o, l);
  }
  return { ops: Int32Array.from(ops), literals: Buffer.concat(lits), memos: Int32Array.from(memoWords), wallOffsetNs: b.wallOffsetNs ?? 0n, specs: b.memos };
}

/**
 * Compile `fields` (and the data source's filter predicates) into a native plan, or say why the data source stays on
 * the JS path. `all`: fields ops may read without showing them (planSpec).
 */
export function compileNativePlan(fields: Field[], preds: Predicate[] = [], all: Field[] = []): NativePlan | { reason: string } {
  return compileSpec(() => planSpec(fields, preds, all));
}

/** Compile a columns row (and the filter predicates) into a native plan, or say why it stays on the JS path. */
export function compileNativeColumns(cols: Column[], preds: Predicate[] = [], all: Field[] = []): NativePlan | { reason: string } {
  return compileSpec(() => columnsPlanSpec(cols, preds, all));
}

function compileSpec(make: () => PlanSpec): NativePlan | { reason: string } {
  let spec: PlanSpec;
  try {
    spec = make();
  } catch (e) {
    if (e instanceof PlanError) return { reason: e.message };
    throw e;
  }
  const plan = RenderPlan.compile(spec);
  const memos = spec.specs;
  memos.forEach((m, k) => {
    const fds = m.kernelText?.mapFds();
    if (fds !== undefined) plan.setMemoSource(k, fds.keys, fds.texts, m.kernelText!.slots, m.kernelText!.matchSize, m.kernelText!.textSize);
  });
  const disposers = memos.filter((m) => m.onChange).map((m) => m.onChange!(() => plan.invalidate()));
  const last: string[] = memos.map(() => '');
  const key = Buffer.alloc(MEMO_KEY_MAX);
  const fillFrom = (b: Batch, refreshOnly: boolean, which: 'render' | 'filter' | 'all' | 'timestamps') => {
      for (let k = 0; k < b.liveCount; k++) {
        const i = b.live[k]!;
        const base = b.offs[i]!;
        for (let m = 0; m < memos.length; m++) {
          const spec = memos[m]!;
          if (which === 'timestamps' ? spec.ranges.length > 0 : which !== 'all' && (spec.filter === true) !== (which === 'filter')) continue;
          let n = 0;
          if (spec.ranges.length === 0) {
            if (refreshOnly) continue;
            const wall = b.buf.readBigUInt64LE(base + spec.wallOffs!);
            if (wall === 0n) continue;
            key.writeBigUInt64LE(wall / 1000000000n, 0);
            n = 8;
          } else {
            for (const [o, l] of spec.ranges) { b.buf.copy(key, n, base + o, base + o + l); n += l; }
          }
          // Records come in runs with the same key: set each key once per run.
          const sig = key.toString('latin1', 0, n);
          if (sig === last[m]) continue;
          const frag = spec.fragment(b, i);
          if (frag === null) continue; // no fragment can stand for this key: its records stay with JS
          if (spec.ranges.length === 0 && frag === '') continue; // unexpected timestamp text: leave it to JS
          plan.setMemo(m, key.subarray(0, n), Buffer.from(frag, 'utf8'));
          last[m] = sig;
        }
      }
      // A memo the plan emptied (invalidation, TTL) must be set again even for the key seen last.
      last.fill('');
  };
  return {
    plan,
    filterMemos: memos.some((m) => m.filter),
    fill(b, refreshOnly = false) { fillFrom(b, refreshOnly, refreshOnly ? 'all' : 'render'); },
    fillMissed(b) {
      // every other memo from the record bytes as they are (their keys and values are not timestamps) ...
      fillFrom(b, true, 'all');
      // ... then the wall-clock texts, from the timestamps rewritten as the formatters rewrite them
      const rewritten = new Set<number>();
      for (const m of memos) {
        if (m.ranges.length > 0 || m.wallOffs === undefined || rewritten.has(m.wallOffs)) continue;
        rewritten.add(m.wallOffs);
        const add = m.wallOffsetNs ?? 0n;
        for (let k = 0; k < b.liveCount; k++) {
          const at = b.offs[b.live[k]!]! + m.wallOffs;
          const v = b.buf.readBigUInt64LE(at);
          if (v !== 0n) b.buf.writeBigUInt64LE(BigInt.asUintN(64, v + add), at);
        }
      }
      if (rewritten.size > 0) fillFrom(b, false, 'timestamps');
    },
    fillFilter(b) { fillFrom(b, false, 'filter'); },
    dispose() { for (const d of disposers) d(); },
  };
}
