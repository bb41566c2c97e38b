// gadgetctl's -o json / -o columns of a received data source, rendered from the batch frames' bytes by the same
// native render plan `ig run` uses (native/src/render_buffer.c): no JS object per event.
//
// The plan is compiled for a "twin" of the received data source: the same fields, names, kinds and annotations,
// with the value-carried fields (derived values the daemon materialised: strings, numbers, booleans) moved into
// slots after the record bytes. The native side decodes each record and its values into that layout and renders
// it; a value that fits no slot hands that one record to the JS renderer, which prints the same bytes.
import { getSystemErrorName } from 'node:util';
import { RenderPlan } from '../bpf/render-plan.js';
import { DataSource, FieldFlag, Kind, baseKind, isArrayKind, isIntegerKind, isSignedKind, scalarSize, type Batch, type Field, type Storage } from '../datasource/index.js';
import type { ReceivedLayout } from '../datasource/codec.js';
import { planSpec, columnsPlanSpec, PlanError } from '../operators/cli/native-plan.js';
import { makeJsonEncoder, jsonFields } from '../operators/cli/json.js';
import { columnFor, fitColumnsToWidth, headerLine, rowLine } from '../operators/cli/columns.js';
import { selectFields } from '../operators/cli/fields.js';
import type { Sink } from '../operators/cli/operator.js';

/** Slot types (render_buffer.c). */
const SLOT = { Skip: 0, Str: 1, Uint: 2, Sint: 3, Bool: 4 } as const;
/** A string slot: at most 4095 bytes and the NUL (render_plan.c COL_TEXT_MAX is 4096); longer values go to JS. */
const STR_SLOT = 4096;

interface Twin { ds: DataSource; layout: Int32Array }

/** How a value-carried field of `kind` travels in the twin layout (Skip: no slot; a plan using it is refused). */
function slotOf(kind: number): { type: number; size: number } {
  if (isArrayKind(kind)) return { type: SLOT.Skip, size: 0 };
  const k = baseKind(kind);
  if (k === Kind.String || k === Kind.CString) return { type: SLOT.Str, size: STR_SLOT };
  if (k === Kind.Bool) return { type: SLOT.Bool, size: 1 };
  if (isIntegerKind(k)) return { type: isSignedKind(k) ? SLOT.Sint : SLOT.Uint, size: scalarSize(k) };
  return { type: SLOT.Skip, size: 0 };
}

/** The twin of a received data source and its layout for render_buffer.c. */
export function twinOf(ds: DataSource, rl: ReceivedLayout): Twin {
  const twin = new DataSource(ds.name, ds.type);
  twin.staticSize = ds.staticSize;
  for (const [k, v] of ds.annotations) twin.annotations.set(k, v);
  twin.tags.push(...ds.tags);
  const slots = new Map<Field, Storage>();
  const layout: number[] = [rl.recordBytes, rl.valueFields.length];
  let at = (rl.recordBytes + 7) & ~7;
  for (const f of rl.valueFields) {
    const s = slotOf(f.kind);
    layout.push(at, s.type, s.size);
    if (s.type !== SLOT.Skip) {
      slots.set(f, { type: 'static', offs: at, size: s.size });
      at = (at + s.size + 7) & ~7;
    }
  }
  for (const f of ds.fields) {
    const slot = slots.get(f);
    const annotations = Object.fromEntries(f.annotations);
    // strings.joined.* declares what the gadget's WASM module does to a char array (trace_exec's args), for outputs
    // that render records the module did not see. Received records went through the sender's operators, the
    // module included: the field holds the final text.
    for (const k of Object.keys(annotations)) if (k.startsWith('strings.joined.')) delete annotations[k];
    twin.addField({
      name: f.name, fullName: f.fullName, kind: f.kind, flags: f.flags & ~FieldFlag.HasParent, order: f.order,
      parent: f.parent ? twin.fields[f.parent.index] : undefined, tags: [...f.tags], annotations, storage: slot ?? f.storage,
    }, { asIs: true });
  }
  return { ds: twin, layout: Int32Array.from(layout) };
}

/**
 * Renders one received data source as JSON lines or column rows: batch frames natively, decoded batches (and the
 * records the native side hands back) with the JS encoders of the cli operator, in order, through `sink`.
 */
export class FrameRenderer {
  private readonly state = new Int32Array(3);
  /** Lines of one frame (a batch of trace_open JSON is ~300 KiB); a longer frame's come in a Buffer of their own. */
  private readonly out = Buffer.allocUnsafe(1 << 20);
  /** The column header was printed (by this renderer, or before it: set by the owner to not print it again). */
  headerDone = false;
  /** Records rendered by the plan, and by JS (handed back, or decoded batches). */
  nativeRecords = 0;
  jsRecords = 0;

  /**
   * The file descriptor `sink` writes to, when the lines may go there directly (-1: not now, e.g. while the sink
   * still holds earlier output): set by the owner of a sink that writes to an fd in order (gadgetctl's stdout).
   */
  directFd: (() => number) | undefined;

  private constructor(
    private readonly plan: RenderPlan, private readonly layout: Int32Array, private readonly line: (b: Batch, i: number) => string,
    private readonly sink: Sink, private readonly header: string | undefined,
    /** Values rendered from pieces made once per distinct value (render_pieces.c) instead of from slots. */
    readonly pieces = 0,
    /** Lines made from the last line, its unchanged values copied (render_plan.c ig_plan_render_delta). */
    readonly delta = false,
  ) {}

  /**
   * A renderer of `ds` in `mode` (json or columns) with the --fields selection, or the reason there is none (a
   * shown field has no native form: the caller renders in JS).
   */
  static create(ds: DataSource, rl: ReceivedLayout, mode: 'json' | 'columns', fieldsSpec: string | undefined, sink: Sink): FrameRenderer | { reason: string } {
    const twin = twinOf(ds, rl);
    const twinField = (f: Field) => twin.ds.fields[f.index]!;
    try {
      if (mode === 'json') {
        const list = fieldsSpec ? selectFields(ds, fieldsSpec) : jsonFields(ds);
        const spec = planSpec(list.map(twinField));
        if (spec.specs.length > 0) return { reason: 'fields computed on this side' };
        const plan = RenderPlan.compile(spec);
        // The values' JSON text made once per distinct value instead of escaped from a slot per record
        // (IG_CTL_PIECES=0: from the slots, as before; benchmarks compare both).
        const pieces = process.env['IG_CTL_PIECES'] !== '0' ? plan.bindPieces(twin.layout) : 0;
        // Each line made from the last one, only the values that changed rendered anew (IG_CTL_DELTA=0: every
        // value of every line, as before; benchmarks compare both).
        const delta = pieces > 0 && process.env['IG_CTL_DELTA'] !== '0' && plan.bindDelta();
        return new FrameRenderer(plan, twin.layout, makeJsonEncoder(list, 0), sink, undefined, pieces, delta);
      }
      const selected = selectFields(ds, fieldsSpec);
      if (selected.length === 1 && selected[0]!.annotation('content-type') === 'text/plain') return { reason: 'a text/plain column' };
      const width = sink.isTTY ? sink.width : undefined;
      const cols = selected.map((f, k) => columnFor(ds, f, k === selected.length - 1));
      fitColumnsToWidth(cols, width);
      const twinCols = selected.map((f, k) => columnFor(twin.ds, twinField(f), k === selected.length - 1));
      fitColumnsToWidth(twinCols, width);
      const spec = columnsPlanSpec(twinCols);
      if (spec.specs.length > 0) return { reason: 'cells computed on this side' };
      return new FrameRenderer(RenderPlan.compile(spec), twin.layout, (b, i) => rowLine(cols, b, i), sink, headerLine(cols));
    } catch (e) {
      if (e instanceof PlanError) return { reason: e.message };
      throw e;
    }
  }

  /** The column header (once, before the first batch, as the JS columns renderer prints it). */
  private head(): string {
    if (this.headerDone || this.header === undefined) return '';
    this.headerDone = true;
    return this.header + '\n';
  }

  /** A batch frame's body frame[start, end); `decode` gives its Batch for the records the plan cannot render. */
  renderFrame(frame: Buffer, start: number, end: number, decode: () => Batch): void {
    const st = this.state;
    st[0] = 0;
    let b: Batch | undefined;
    const head = this.head();
    if (head) this.sink.write(head);
    for (;;) {
      // Straight to the fd when the sink has nothing pending (its writes and these stay in order).
      const fd = this.directFd?.() ?? -1;
      const res = this.plan.renderFrame(this.layout, frame, start, end, st, fd >= 0 ? fd : this.out);
      if (res === undefined) {
        // Not parseable here: the JS decoder reads it (and says what is wrong with it, if anything).
        b ??= decode();
        this.writeJs(b, st[0]!);
        return;
      }
      if (fd >= 0) {
        // The error a synchronous write of these lines would have thrown (EPIPE once the reader is gone).
        if (typeof res === 'number' && res < 0) throw Object.assign(new Error(`${getSystemErrorName(res)}: write failed`), { code: getSystemErrorName(res), errno: res, syscall: 'write' });
      } else {
        // (the sink's contract: a Buffer is only valid during write(), so `out` is reused)
        const out = typeof res === 'number' ? this.out.subarray(0, res) : res;
        if (out.length) this.sink.write(out);
      }
      this.nativeRecords += st[1]! - st[0]!;
      if (st[1] === st[2]) return;
      b ??= decode();
      this.sink.write(this.line(b, st[1]!) + '\n');
      this.jsRecords++;
      st[0] = st[1]! + 1;
    }
  }

  /** A batch decoded in JS (it arrived before this renderer was ready, or in another form). */
  renderBatch(b: Batch): void {
    const head = this.head();
    if (head) this.sink.write(head);
    this.writeJs(b, 0);
  }

  private writeJs(b: Batch, from: number): void {
    let s = '';
    for (let k = from; k < b.liveCount; k++) s += this.line(b, b.live[k]!) + '\n';
    this.jsRecords += Math.max(0, b.liveCount - from);
    if (s) this.sink.write(s);
  }
}
