// Compile the JSON encoder of a data source into a native render plan (native/src/render_plan.c), so that the
// reader's poll thread writes the lines itself and the JS thread sees no record in the common case.
//
// The plan walks the same field tree as the JS encoder (json.ts) and must give byte-identical lines:
// static integers, booleans and C strings become native ops; everything an operator computes in JS becomes a
// memo whose fragment the JS encoder renders the first time a key is seen (the field's declared Derivation). A field
// with no native form makes the whole data source stay on the JS path.
import { RenderPlan } from '../../bpf/render-plan.js';
import { Kind, baseKind, isArrayKind, scalarSize, type Batch, type Field, type Derivation } from '../../datasource/index.js';
import { buildTree, encodeNode, valueWriter, type Node } from './json.js';

const OP = { LIT: 1, UINT: 2, SINT: 3, BOOL: 4, CSTR: 5, WALL_U64: 6, WALL_STR: 7, MEMO: 8 } as const;
const MEMO_KEY_MAX = 64;

type Writer = (b: Batch, i: number) => string;

interface MemoSpec {
  ranges: [number, number][];   // record byte ranges of the key; none: wall-clock seconds of `wallOffs`
  ttlMs: number;
  fragment: Writer;
  wallOffs?: number;            // timestamp memos: where the (already rewritten) wall-clock ns is in JS batches
  onChange?: (cb: () => void) => () => void;
}

export interface NativePlan {
  plan: RenderPlan;
  /**
   * Fill the memos from a batch JS rendered (the records the plan missed on). `refreshOnly`: the records did not
   * go through the pipeline (refresh batches), so their timestamps are still boot-clock: skip those memos.
   */
  fill(b: Batch, refreshOnly?: boolean): void;
  /** Stop following the state the memos depend on. */
  dispose(): void;
}

export class PlanError extends Error {}

/** A static member read as is: its byte range, or undefined when its value is not its bytes. */
function plainStatic(f: Field): { offs: number; size: number } | undefined {
  const s = f.storage;
  if (s.type !== 'static' || s.bitSize || !f.readsStorage) return undefined;
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

class PlanBuilder {
  readonly parts: (string | number[])[] = [];
  readonly memos: MemoSpec[] = [];
  wallOffsetNs: bigint | undefined;

  lit(s: string): void { this.parts.push(s); }
  op(...o: number[]): void { this.parts.push(o); }

  memo(m: MemoSpec): number {
    this.memos.push(m);
    return this.memos.length - 1;
  }

  /** A value (or subtree) an operator computes in JS: a memo keyed by the derivation's inputs, filled by `fragment`. */
  memoOp(d: Derivation | undefined, what: string, fragment: Writer): void {
    if (d?.kind !== 'computed') throw new PlanError(`${what}: no native key`);
    this.op(OP.MEMO, this.memo({ ranges: keyRanges(d.inputs, what), ttlMs: d.ttlMs ?? 0, fragment, onChange: d.invalidation }), 0, 0);
  }

  wallOffset(ns: bigint): void {
    if (this.wallOffsetNs !== undefined && this.wallOffsetNs !== ns) throw new PlanError('timestamps with different clock offsets');
    this.wallOffsetNs = ns;
  }

  leaf(f: Field): void {
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
      this.op(OP.WALL_STR, r.offs, this.memo({ ranges: [], ttlMs: 0, fragment, wallOffs: offs }), 0);
      return;
    }
    if (hint?.kind === 'computed') {
      this.memoOp(hint, f.fullName, valueWriter(f));
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
        this.node(c, depth + 1);
      } else {
        this.leaf(c.field!);
      }
    }
    this.lit('}');
  }
}

export interface PlanSpec { ops: Int32Array; literals: Buffer; memos: Int32Array; wallOffsetNs: bigint; specs: MemoSpec[] }

/** The plan's arrays for `fields` (what json.ts would print with indent 0). Throws PlanError when a field has no native form. */
export function planSpec(fields: Field[]): PlanSpec {
  const b = new PlanBuilder();
  b.node(buildTree(fields), 0);
  const lits: Buffer[] = [];
  let litLen = 0;
  const ops: number[] = [];
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

/** Compile `fields` into a native plan, or say why the data source stays on the JS path. */
export function compileNativePlan(fields: Field[]): NativePlan | { reason: string } {
  let spec: PlanSpec;
  try {
    spec = planSpec(fields);
  } catch (e) {
    if (e instanceof PlanError) return { reason: e.message };
    throw e;
  }
  const plan = RenderPlan.compile(spec);
  const memos = spec.specs;
  const disposers = memos.filter((m) => m.onChange).map((m) => m.onChange!(() => plan.invalidate()));
  const last: string[] = memos.map(() => '');
  const key = Buffer.alloc(MEMO_KEY_MAX);
  return {
    plan,
    fill(b, refreshOnly = false) {
      for (let k = 0; k < b.liveCount; k++) {
        const i = b.live[k]!;
        const base = b.offs[i]!;
        for (let m = 0; m < memos.length; m++) {
          const spec = memos[m]!;
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
          if (spec.ranges.length === 0 && frag === '') continue; // unexpected timestamp text: leave it to JS
          plan.setMemo(m, key.subarray(0, n), Buffer.from(frag, 'utf8'));
          last[m] = sig;
        }
      }
      // A memo the plan emptied (invalidation, TTL) must be set again even for the key seen last.
      last.fill('');
    },
    dispose() { for (const d of disposers) d(); },
  };
}
