// A compiled JSON render plan (native/src/render_plan.c): int32 ops, literal bytes and memo descriptions. The reader's
// poll thread runs it on every record in render mode. The addon frees it when the last reference goes away (a
// reader holds one while it renders), so there is nothing to close. Tests render a batch on the JS thread through
// the test build's hook (test/harness/native-test-addon.ts) with `plan.handle`.
import { native } from './native.js';
import type { RenderPlanHandle } from './native-api.js';

export interface RenderPlanSpec {
  /** [op, a, b, c] quadruples. */
  ops: Int32Array;
  literals: Buffer;
  /** [count, (ttlMs, nranges, (offset, length)*)*] */
  memos: Int32Array;
  /** Added to boot-clock timestamps to make them wall-clock ns. */
  wallOffsetNs: bigint;
}

export class RenderPlan {
  readonly #h: RenderPlanHandle;

  private constructor(h: RenderPlanHandle) { this.#h = h; }

  /** Check and compile a plan; a bad op or range throws with the reason. */
  static compile(spec: RenderPlanSpec): RenderPlan {
    return new RenderPlan(native.renderPlanNew(spec.ops, spec.literals, spec.memos, spec.wallOffsetNs));
  }

  /** For the reader that renders with it (src/bpf only). */
  get handle(): RenderPlanHandle { return this.#h; }

  /** Queue a memo fragment; the render side stores it before its next record (dropped if invalidated meanwhile). */
  setMemo(memo: number, key: Buffer, fragment: Buffer): void {
    native.renderPlanMemoSet(this.#h, memo, key, fragment);
  }

  /**
   * Answer misses of `memo` (keyed by two ranges) from a kernel map on the reader thread: key = the first range's
   * bytes, value = `slots` × [matchSize bytes][u32 text index][u32 tag], the slot matching the second range says
   * where the text is in `textMapFd`'s array (JSON-quoted as a string); the layouts are KernelTextSource's
   * (src/datasource/field.ts). Before the plan is handed to a reader. Throws when the layouts differ.
   */
  setMemoSource(memo: number, mapFd: number, textMapFd: number, slots: number, matchSize: number, textSize: number): void {
    native.renderPlanMemoSource(this.#h, memo, mapFd, textMapFd, slots, matchSize, textSize);
  }

  /**
   * Render a received batch frame's records (body frame[start, end)) laid out as `layout` says, from record
   * state[0] on, on this thread (gadgetctl): into `out` (byte count returned) or a Buffer of their own when
   * longer, or straight to the file descriptor `out` (0 or -errno returned). See native-api.ts renderBatchFrame.
   */
  renderFrame(layout: Int32Array, frame: Buffer, start: number, end: number, state: Int32Array, out: Buffer | number): number | Buffer | undefined {
    return native.renderBatchFrame(this.#h, layout, frame, start, end, state, out);
  }

  /**
   * gadgetctl: render the values of `layout`'s slots from pieces made once per distinct value (renderFrame with
   * the same layout; see native-api.ts renderPlanBindPieces). Returns how many values are bound.
   */
  bindPieces(layout: Int32Array): number {
    return native.renderPlanBindPieces(this.#h, layout);
  }

  /** gadgetctl: render each received line from the last one, only its changed values anew (renderPlanBindDelta). */
  bindDelta(): boolean {
    return native.renderPlanBindDelta(this.#h);
  }

  /** Lines rendered with this plan so far (on reader threads). */
  lines(): number {
    return native.renderPlanLines(this.#h);
  }

  /**
   * Replays: render up to `count` records of a reader-layout batch from byte `offset` on this thread, lines to `fd`.
   * Stops before a record that misses a memo (stop 1: JS renders it) or after one rendered with a stale fragment
   * (stop 2: JS refreshes it); `error` is the errno of a failed write.
   */
  renderTo(batch: Buffer, offset: number, count: number, fd: number): { done: number; offset: number; stop: number; error: number } {
    return native.renderPlanRenderTo(this.#h, batch, offset, count, fd);
  }

  /** Forget every memo before the next record (what the fragments depend on changed). Any time, any thread. */
  invalidate(): void {
    native.renderPlanInvalidate(this.#h);
  }
}
