// Record and replay of the statistics operators (process, cgroup, ebpf `emitstats`). Their batches are built in JS
// from /proc and the kernel's counters, not read from records, so a recording keeps each emitted batch as values
// (RecordSink.rows, entry type 9 of the recording) and a replay emits those instead of sampling this machine.
import type { GadgetContext } from '../gadget/context.js';
import type { RecordedRows, ReplayFeed } from '../gadget/recording.js';
import { Batch, type DataSource, type Field } from '../datasource/index.js';

/** `ds.emit`, and for a recording run the batch's values of `fields` (written after the emit, so that the host
 * facts asked while handling it come first, as for recorded kernel batches). */
export function statsEmitter(ctx: GadgetContext, ds: DataSource, fields: Field[]): (b: Batch) => void {
  const rec = ctx.recording;
  if (!rec?.rows) return (b) => ds.emit(b);
  return (b) => {
    const rows: unknown[][] = [];
    for (let k = 0; k < b.liveCount; k++) { const i = b.live[k]!; rows.push(fields.map((f) => f.get(b, i))); }
    ds.emit(b);
    rec.rows!(ds.name, { fields: fields.map((f) => f.fullName), rows });
  };
}

/**
 * replay: emit `ds`'s recorded batches as they come. The feed is driven by the eBPF operator when the gadget has a
 * program; a gadget with none (top_process, top_cpu_throttle, bpfstats) has this operator drive it once every
 * operator has started. Returns the stop function (waits for the feed to end).
 */
export function replayStats(ctx: GadgetContext, ds: DataSource): () => Promise<void> {
  ctx.replayRows.set(ds.name, (t: RecordedRows) => {
    const fields = t.fields.map((n) => ds.getField(n));
    const b = Batch.empty(ds, t.rows.length);
    t.rows.forEach((row, i) => fields.forEach((f, k) => { if (f) f.set(b, i, row[k] as never); }));
    ds.emit(b);
  });
  const stop = new AbortController();
  let driving: Promise<void> | undefined;
  void ctx.whenStarted.then(() => {
    const feed = ctx.claimReplay();
    if (feed && !stop.signal.aborted) driving = drive(ctx, feed, stop.signal);
  });
  ctx.signal.addEventListener('abort', () => stop.abort(), { once: true });
  return async () => { stop.abort(); await driving; };
}

function drive(ctx: GadgetContext, feed: ReplayFeed, signal: AbortSignal): Promise<void> {
  return feed.run({
    batch: () => undefined, // no program, no kernel batches
    lost: (name, n, cause) => ctx.dataSources.get(name)?.reportLost(n, cause),
    rows: (name, t) => ctx.replayRows.get(name)?.(t),
  }, signal).then(() => {
    if (feed.stopped) ctx.log.warn(feed.stopped);
    ctx.done('end of recording');
  }, (e: Error) => ctx.fail(e));
}
