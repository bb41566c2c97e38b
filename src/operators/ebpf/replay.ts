// `ig replay`: the recorded batches of this gadget's data sources, emitted as its readers would have. A tracer's
// data source that an output offered a render consumer for (and that nothing else needs in JS) is rendered by the
// consumer's plan on this thread, straight from the recorded bytes to its fd (native/src/replay_render.c): JS sees
// only the records the plan misses on, as with a live reader, and renders them through the normal pipeline.
import { writeSync } from 'node:fs';
import type { DataSource } from '../../datasource/index.js';
import type { GadgetContext } from '../../gadget/context.js';
import type { DataSourceRenderConsumer } from '../../gadget/render-consumers.js';
import type { ReplaySink } from '../../gadget/recording.js';
import { batchFromRing } from './records.js';
import { recordedBatch } from './record-tap.js';

/** Records handed to JS after a miss (the miss and the rest of a reader's poll, as on a live reader). */
const MISS_RECORDS = 32;

/** Sleeps of 1 ms on the JS thread (Atomics.wait on a cell nobody notifies). */
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, b: Buffer): void {
  let o = 0;
  while (o < b.length) {
    try {
      o += writeSync(fd, b, o, b.length - o);
    } catch (e) {
      // stdout is non-blocking when Node made it a pipe: wait for its reader to drain it (as line_output.c polls)
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** The byte offset after `n` reader-layout records from `off`. */
function skip(raw: Buffer, off: number, n: number): number {
  for (let k = 0; k < n && off + 8 <= raw.length; k++) off += 8 + ((raw.readUInt32LE(off) + 7) & ~7);
  return Math.min(off, raw.length);
}

/** Call at start (before the outputs' own start, so that they see the consumers attached). */
export function replaySink(ctx: GadgetContext, tracerSources: DataSource[]): ReplaySink {
  const consumers = new Map<DataSource, DataSourceRenderConsumer>();
  for (const ds of tracerSources) {
    const c = ctx.renderConsumers.for(ds);
    if (!c) continue;
    if (c.preamble) writeAll(c.outFd, c.preamble);
    c.attached({ write: (bytes) => writeAll(c.outFd, bytes) });
    consumers.set(ds, c);
    ctx.log.debug(`${ds.name}: recorded records rendered by the native plan`);
  }
  // A recorded answer that changed (an executable, a container) makes every memo fragment built on older answers
  // stale, as a container event does live.
  if (consumers.size > 0) ctx.facts.onSet((_kind, _key, changed) => { if (changed) for (const c of consumers.values()) c.plan.invalidate(); });
  const emit = (ds: DataSource, raw: Buffer, count: number, layout: number) => {
    const c = layout === 0 ? consumers.get(ds) : undefined;
    if (!c) { ds.emit(recordedBatch(ds, raw, count, layout)); return; }
    let off = 0;
    let i = 0;
    while (i < count) {
      const r = c.plan.renderTo(raw, off, count - i, c.outFd);
      if (r.error) { c.outputFailed(r.error, `write to fd ${c.outFd} failed (errno ${r.error})`); return; }
      if (r.stop === 2) c.refresh(batchFromRing(ds, raw.subarray(skip(raw, off, r.done - 1), r.offset), 1));
      i += r.done;
      off = r.offset;
      if (r.stop !== 1) { if (r.done === 0) break; continue; }
      const k = Math.min(MISS_RECORDS, count - i);
      const end = skip(raw, off, k);
      ds.emit(batchFromRing(ds, raw.subarray(off, end), k));
      i += k;
      off = end;
    }
  };
  // Runs `f` for data source `name` as a batch is handled: a reader of stdout that went away ends the replay
  // quietly, as on a live run; any other error ends it with that error (one line, exit status 1).
  const guarded = (name: string, f: (ds: DataSource) => void) => {
    const ds = ctx.dataSources.get(name);
    if (!ds) return;
    try {
      f(ds);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') { ctx.done('stdout closed'); return; }
      ctx.fail(new Error(`${ds.name}: ${(e as Error).message}`));
    }
  };
  const consumerOf = (name: string) => { const ds = ctx.dataSources.get(name); return ds ? consumers.get(ds) : undefined; };
  return {
    batch: (name, raw, count, layout) => guarded(name, (ds) => emit(ds, raw, count, layout)),
    lost: (name, n, cause) => ctx.dataSources.get(name)?.reportLost(n, cause),
    // The recording's batches of these data sources render in the feed's native loop (src/bpf/replay-loop.ts),
    // with no JS per batch; JS sees the records the plan misses on, as above.
    native: consumers.size === 0 ? undefined : {
      route: (name) => {
        const c = consumerOf(name);
        if (c) ctx.log.debug(`${name}: recorded batches rendered by the native replay loop`);
        return c ? { plan: c.plan, fd: c.outFd } : undefined;
      },
      miss: (name, raw, count) => guarded(name, (ds) => ds.emit(batchFromRing(ds, raw, count))),
      refresh: (name, raw) => guarded(name, (ds) => consumers.get(ds)?.refresh(batchFromRing(ds, raw, 1))),
      failed: (name, errno) => { const c = consumerOf(name); c?.outputFailed(errno, `write to fd ${c.outFd} failed (errno ${errno})`); },
    },
  };
}
