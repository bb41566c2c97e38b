// Tracers (GADGET_TRACER): a data source fed by a ring (or perf) buffer. Each gets a reader whose batches become
// Batches of the data source, or, when an output offered a render consumer for it and nothing else needs the
// records in JS, a reader that renders on its own thread with that consumer's plan.
import type { BpfObject } from '../../bpf/object.js';
import { MapType } from '../../bpf/constants.js';
import { BATCH_FRAME, BATCH_MEMO, BATCH_REFRESH, releaseBatch, type AnyReader, type ReaderOptions } from '../../bpf/reader.js';
import type { RecorderHandle } from '../../bpf/native-api.js';
import { Kind, type Batch, type DataSource } from '../../datasource/index.js';
import type { GadgetContext } from '../../gadget/context.js';
import { readPerCpuCounter } from './counters.js';
import { batchFromRing } from './records.js';
import { emitBatch } from './record-tap.js';

const MIN_RING_BYTES = 8 * 1024 * 1024;
/** Readers hand over batches after this linger (batched wake-ups) and at most this late. */
const READER_OPTIONS: ReaderOptions = { maxLatencyMs: 1, lingerUs: 1000 };
/** A reader that only records: batches of up to 20 ms, 4 ms between polls (as a rendering reader's). */
const RECORD_READER_OPTIONS: ReaderOptions = { maxLatencyMs: 20, lingerUs: 4000 };

/** The ring size floor: a power of two of at least a page, as the kernel requires; 0 keeps the declared size. */
export function ringFloor(annotation: string | undefined): number {
  if (annotation === undefined) return MIN_RING_BYTES;
  const n = Number(annotation);
  if (!Number.isFinite(n) || n <= 0) return 0;
  let size = 4096;
  while (size < n) size *= 2;
  return size;
}

/**
 * `recording`: its reader records the records it renders (render + record mode). `paced`: the ring wakes its reader
 * at fill levels and on a clock, not per record (ig's include/gadget/buffer.h; images built with upstream's header
 * or GADGET_RINGBUF_SUBMIT_FLAGS wake it per record and get the lingering reader).
 */
interface TracerDs { ds: DataSource; map: string; reader?: AnyReader; lostMap?: string; lostSeen: bigint; recording?: boolean; paced: boolean }

export class Tracers {
  readonly list: TracerDs[] = [];

  constructor(private readonly ctx: GadgetContext) {}

  add(ds: DataSource, map: string, paced = false): void {
    this.list.push({ ds, map, lostMap: `${map}_lost_samples`, lostSeen: 0n, paced });
    addRestField(ds);
  }

  /**
   * Before load. Records are read in batches after a short linger; a small ring (upstream gadgets declare
   * 256 KiB) fills within that linger under a syscall storm. Give every tracer ring at least MIN_RING_BYTES.
   * A data source can ask for another floor with the annotation ebpf.ring.min-size (bytes, 0 = as declared).
   */
  configure(obj: BpfObject): void {
    const maps = obj.maps();
    for (const t of this.list) {
      const m = maps.find((x) => x.name === t.map);
      const want = ringFloor(t.ds.annotations.get('ebpf.ring.min-size'));
      if (m && m.type === MapType.Ringbuf && m.maxEntries < want) obj.setMapMaxEntries(t.map, want);
    }
  }

  start(obj: BpfObject): void {
    for (const t of this.list) this.open(t, obj);
  }

  private open(t: TracerDs, obj: BpfObject): void {
    // A recording needs every batch in JS (to write it), unless the reader thread hands them to the native recorder
    // itself: with nothing else reading the records (-o none), or while it renders them with a consumer's plan
    // (-o json/columns on stdout: the rendered records are recorded there, the misses by JS after their facts).
    const recording = this.ctx.recording !== undefined;
    const offered = this.ctx.renderConsumers.for(t.ds);
    const recordTarget = recording && offered ? this.ctx.recording!.nativeTarget?.(t.ds.name) : undefined;
    const consumer = recording && !recordTarget ? undefined : offered;
    t.recording = recordTarget !== undefined;
    const aggregate = consumer || recording ? undefined : this.ctx.aggregateConsumers.for(t.ds);
    // The daemon's forwarder: batch frames written on the reader thread, the records never reach JS.
    const frames = consumer || aggregate || recording ? undefined : this.ctx.frameConsumers.for(t.ds);
    // Recording with nothing that reads the records here (-o none, no metrics): the batch goes to the recording
    // only, with no Batch made and no subscriber run (the formatters' rewrite would feed nobody).
    const recordOnly = recording && !this.ctx.renderConsumers.for(t.ds) && t.ds.onlyNativeEquivalentSubscribers();
    // Nothing here reads the records (-o none with no operator that consumes them; filters then feed nobody): the
    // reader thread advances over them (a ring; a perf buffer's reader cannot) and no batch reaches JS. Handing every
    // batch to JS to be dropped kept ig's JS path warm under a storm: +6.5 MiB resident, +8 MiB unique over -o json.
    const discard = !consumer && !recording && !aggregate && !frames && obj.map(t.map).type === MapType.Ringbuf &&
      t.ds.onlyNativeEquivalentSubscribers(undefined, true);
    const onBatch = (buf: Buffer, count: number, kind?: number) => {
      try {
        if (recordOnly) { this.ctx.recording!.batch(t.ds.name, buf, count, 0).commit(); return; }
        if (kind === BATCH_REFRESH) { consumer?.refresh(batchFromRing(t.ds, buf, count)); return; }
        if (kind === BATCH_MEMO) { consumer?.missed?.(batchFromRing(t.ds, buf, count)); return; }
        if (kind === BATCH_FRAME) { frames!.frame(buf, count); return; }
        emitBatch(this.ctx, t.ds, batchFromRing(t.ds, buf, count), 0, buf);
        // Nobody holds the batch any more: its memory goes back to the reader now rather than after a GC (which
        // under a storm came only at V8's 64 MiB external-memory mark: -o none peaked at 113 MiB).
        if (!this.ctx.recording && t.ds.releasesBatches()) releaseBatch(buf);
      } catch (e) {
        this.ctx.log.error(`${t.ds.name}: ${(e as Error).message}`);
        this.ctx.done('error');
      }
    };
    // Record only: the reader thread hands its batches to the native recorder itself (no JS per batch), lingering
    // as long as a rendering reader (fewer wake-ups; a chunk is sealed within a second anyway).
    const target = recordOnly ? this.ctx.recording!.nativeTarget?.(t.ds.name) : undefined;
    const opts: ReaderOptions = discard
      ? { ...READER_OPTIONS, ...RECORD_READER_OPTIONS, discard: true }
      : target
      ? { ...READER_OPTIONS, ...RECORD_READER_OPTIONS, record: target.recorder as RecorderHandle, recordDs: target.ds }
      : recordTarget
        ? { ...READER_OPTIONS, consumer, record: recordTarget.recorder as RecorderHandle, recordDs: recordTarget.ds }
        : { ...READER_OPTIONS, consumer, aggregate, frames };
    if (t.paced) opts.paced = true;
    t.reader = obj.openReader(t.map, onBatch, opts);
    if (target) this.ctx.log.debug(`${t.ds.name}: records recorded on the reader thread`);
    if (discard) this.ctx.log.debug(`${t.ds.name}: nothing reads the records: the reader thread drops them`);
    // A slow consumer of the batches (the library's iterator) pauses the reader: the ring fills and the BPF side
    // counts the losses, reported by pollLost.
    if (!consumer && !aggregate) { const r = t.reader; t.ds.setFlowControl({ pause: (p) => r.pause(p) }); }
    if (consumer) this.ctx.log.debug(`${t.ds.name}: records rendered on the reader thread${recordTarget ? ' and recorded there' : ''}`);
    if (aggregate) this.ctx.log.debug(`${t.ds.name}: records counted per key on the reader thread`);
    if (frames) this.ctx.log.debug(`${t.ds.name}: batch frames written on the reader thread`);
  }

  /** Report what the BPF side could not reserve since the last look (every second, and once at stop). */
  pollLost(obj: BpfObject): void {
    for (const t of this.list) {
      if (!t.lostMap) continue;
      const m = obj.findMap(t.lostMap);
      if (!m) { t.lostMap = undefined; continue; }
      const sum = readPerCpuCounter(m);
      if (sum > t.lostSeen) {
        t.ds.reportLost(Number(sum - t.lostSeen), 'ring buffer full');
        t.lostSeen = sum;
      }
    }
  }

  /** Stop the readers; each delivers what it holds before this returns. */
  stopReaders(): void {
    for (const t of this.list) {
      const r = t.reader;
      if (!r) continue;
      t.reader = undefined;
      t.ds.setFlowControl(undefined);
      const st = r.stop();
      if (st.lost > 0) t.ds.reportLost(st.lost, 'perf buffer full');
      // Recording while rendering: `records` counts the records recorded on the reader thread (the rendered ones) too.
      if (st.rendered !== undefined) this.ctx.log.debug(`${t.ds.name}: ${st.rendered} records rendered on the reader thread, ${t.recording ? st.records - st.rendered : st.records} by JS${st.renderedInPlace ? ` (${st.renderedInPlace} rendered there after JS filled their memos)` : ''}${st.polls ? `; ${st.polls} polls, ${st.pacedTimeouts !== undefined ? `${st.pacedTimeouts} on the reader's clock` : `linger up to ${(st.lingerPeakUs ?? 0) / 1000} ms`}` : ''}`);
      if (st.aggregated !== undefined) this.ctx.log.debug(`${t.ds.name}: ${st.aggregated} records counted on the reader thread`);
      if (st.batchBlocks !== undefined && st.batches > 0) this.ctx.log.debug(`${t.ds.name}: ${st.batches} batches handed to JS in ${st.batchBlocks} full-size buffers`);
    }
  }
}

/**
 * Variable-length record tails, as upstream: a record may carry bytes after its struct (a packet appended by
 * bpf_perf_event_output's `len << 32` flags, for example). The data-source annotation `ebpf.rest.name` names a
 * bytes field holding them; `ebpf.rest.len` names the struct field with their length (without it: everything
 * after the struct, which for perf samples includes up to 7 bytes of alignment padding).
 */
export function addRestField(ds: DataSource): void {
  const name = ds.annotations.get('ebpf.rest.name');
  if (!name || ds.getField(name)) return;
  const lenName = ds.annotations.get('ebpf.rest.len');
  const lenGet = lenName ? ds.getField(lenName)?.get : undefined;
  const size = ds.staticSize;
  const compute = (b: Batch, i: number): Buffer => {
    const start = b.offs[i]! + size;
    let n = Math.max(0, b.lens[i]! - size);
    if (lenGet) n = Math.min(n, Number(lenGet(b, i)));
    return b.buf.subarray(start, start + n);
  };
  ds.addField({
    name, kind: Kind.Bytes, tags: ['src:ebpf', 'type:rest'],
    annotations: { description: 'Bytes after the record struct', 'columns.hidden': 'true' },
    storage: { type: 'derived', compute },
  });
}
