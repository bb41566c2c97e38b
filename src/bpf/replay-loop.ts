// The native replay loop (native/src/replay_loop.c): reads, checks and decompresses a recording's chunks on a thread
// of its own and renders the batches of routed data sources with their render plans straight to an fd, returning to
// JS only for what JS must handle (see `ReplayStep`). Owned here like every native object; src/record drives it.
import { native } from './native.js';
import type { ReplayLoopHandle } from './native-api.js';
import type { RenderPlan } from './render-plan.js';

/** What `step()` stopped for (state[0]); the numbers are replay_loop.c's. */
export enum ReplayStep {
  /** Any entry but a routed batch: type, offset in its chunk, chunk offset, chunks taken; the body is returned. */
  Entry = 1,
  /** A plan missed: ds id, record count; the records are returned (reader layout). */
  Miss = 2,
  /** A record was rendered with a stale memo fragment: ds id; the record is returned. */
  Refresh = 3,
  /** A write failed: ds id, errno. The loop is done. */
  Failed = 4,
  /** The time slice is over. */
  Yield = 5,
  /** The thread stopped (end of file, damage, a codec it leaves to JS): where JS's reader goes on, chunks taken. */
  Stop = 6,
  /** A malformed entry: offset in its chunk, announced length (-1: header cut), bytes left, chunk offset, chunks taken. */
  Damage = 7,
}

export class NativeReplayLoop {
  readonly #h: ReplayLoopHandle;
  /** [kind, a, b, c, d, e] of the last step. */
  readonly state = new Float64Array(6);
  #closed = false;

  /** Reads from `position` (a chunk boundary after `chunks` chunks) of the recording open as `fd` (dup'ed). */
  constructor(fd: number, position: number, size: number, version: number, chunks: number) {
    this.#h = native.replayLoopOpen(fd, position, size, version, chunks, this.state);
  }

  /** Render `dsId`'s reader-layout batches with `plan` to `fd`. */
  route(dsId: number, plan: RenderPlan, fd: number): void { native.replayLoopRoute(this.#h, dsId, plan.handle, fd); }

  /** Runs until JS has something to do (state[0], a ReplayStep) or `budgetMs` passed; returns the copy it concerns. */
  step(budgetMs: number): Buffer | undefined { return native.replayLoopStep(this.#h, budgetMs); }

  /** Stops the thread and frees the buffers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.replayLoopClose(this.#h);
  }
}
