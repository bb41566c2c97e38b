// Export mode of otel-metrics (`metrics.collect: "true"`): a data source's records become OpenTelemetry
// instruments on a Meter named after the data source (or --otel-metrics-name ds:name), as upstream does:
//   key        fields → attributes (name: metrics.name or the field's full name; bytes as base64);
//   counter    fields → a counter that adds the value (Int or Double by the field's kind);
//   gauge      fields → a gauge holding the last value;
//   histogram  fields → a histogram of the value with `metrics.boundaries`, or, for gadget_histogram_slot__*
//                       arrays, log2 buckets (boundaries 1, 2, 4, …, 2^(n-1)) filled from the slot counts;
//   metrics.implicit-counter.name on the data source → a counter of records.
// Records are aggregated per batch by their key values in plain maps; once per batch, each series the batch touched
// adds its counters' sums to the SDK's synchronous counters, records its gauges' last values and its histogram
// values, so a storm of events costs a map update each and a few SDK calls per key and batch. Synchronous
// instruments also keep a scrape cheap: the SDK hashes and merges only the series that changed since the last
// collection (observable instruments re-observe, hash and diff every series at every scrape: 10,000 series cost
// ~3x more CPU per scrape).
// When nothing else needs the records in JS and every key and value is record bytes (or derived from record bytes
// only), the same aggregation runs on the reader's poll thread (`nativeSpec`, src/bpf/metrics-aggregator.ts): JS
// then sees one drain per collection (and per second) with the keys that are new and per-key deltas.
import type { Attributes, Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { baseKind, isArrayKind, isIntegerKind, isNumericKind, isSignedKind, isStringKind, Kind, kindName, type Batch, type DataSource, type Derivation, type Field, type Invalidation } from '../../datasource/index.js';
import type { DataSourceAggregateConsumer } from '../../gadget/aggregate-consumers.js';
import { AggOp, MetricsAggregator, type AggKeyRange, type AggValueOp, type MetricsAggregatorSpec } from '../../bpf/metrics-aggregator.js';
import { metricRole } from './roles.js';
import { MetricsConfigError } from './config.js';

export { MetricsConfigError };

export const ANN_IMPLICIT_COUNTER_NAME = 'metrics.implicit-counter.name';
export const ANN_IMPLICIT_COUNTER_DESCRIPTION = 'metrics.implicit-counter.description';

type KeyReader = (b: Batch, i: number) => string | number | boolean;

interface NumberMetric { name: string; field: Field | null; description?: string; unit?: string; valueType: ValueType }
interface HistogramMetric { field: Field; name: string; slots: number; log2: boolean }

/** The instruments of one export on one meter (one per MeterProvider: Prometheus, each OTLP exporter). */
interface Sink { counters: Counter[]; gauges: Gauge[]; histograms: Histogram[] }

/** An observable instrument that is never observed (so never exported): its callback drains the reader-thread
 * aggregation into the synchronous instruments before the SDK collects them. */
const DRAIN_HOOK = 'ig.metrics.drain';

interface Series {
  attrs: Attributes;
  /** Sums of the counters (implicit counter first) since the last flush, then last values of the gauges. */
  values: Float64Array;
  /** Per histogram: values of this batch (plain fields) or summed slot counts (log2 arrays). */
  pending: number[][];
  dirty: boolean;
  /** Native path: the number of the record the gauges come from (keys that differ in bytes may share a series). */
  seq?: number;
}

function metricName(f: Field): string {
  return f.annotation('metrics.name') || f.fullName;
}

function keyReader(f: Field): KeyReader {
  const k = f.kind;
  if (isStringKind(k)) return (b, i) => String(f.get(b, i) ?? '');
  if (k === Kind.Bool) return (b, i) => f.get(b, i) === true;
  if (isNumericKind(k)) return (b, i) => Number(f.get(b, i) ?? 0);
  return (b, i) => {
    const v = f.get(b, i);
    return Buffer.isBuffer(v) ? v.toString('base64') : String(v ?? '');
  };
}

/** The record bytes a field reads as they are, or undefined (computed, rewritten, a bitfield, a column). */
function rawRange(f: Field): AggKeyRange | undefined {
  const st = f.storage;
  if (!f.readsStorage || st.type !== 'static' || st.bitSize || st.size <= 0) return undefined;
  if (f.derivation?.kind === 'wallclock-ns') return undefined; // rewritten in place to wall-clock time in JS
  if (f.annotation('strings.joined.separator') !== undefined) return undefined; // joined by the WASM module in JS
  return { offset: st.offs, size: st.size, cstring: isStringKind(f.kind) };
}

/** What a computed field follows from: its own declaration or, for a subtree (container fields), its parent's. */
function derivationOf(f: Field): Derivation | undefined {
  for (let x: Field | undefined = f; x; x = x.parent) if (x.derivation) return x.derivation;
  return undefined;
}

/** Keys (and values) beyond this many distinct keys are not kept natively: the SDK keeps 1,000,000 series. */
const NATIVE_MAX_KEYS = 1_000_000;
/** New keys are turned into attributes this many at a time (one zeroed batch of records each). */
const KEY_CHUNK = 256;

interface NativeLink {
  agg: MetricsAggregator;
  /** Slot id → series (slots are renumbered after a reset). */
  slots: (Series | undefined)[];
  /** Forget the keys at the next drain: a derived key's value may have changed. */
  resetPending: boolean;
  ttlMs: number;
  lastReset: number;
  overflowSeen: number;
  unsubscribe: (() => void)[];
}

function numberReader(f: Field): (b: Batch, i: number) => number {
  return (b, i) => Number(f.get(b, i) ?? 0);
}

/** One collected data source: its instruments on `meter` and the per-key aggregation that feeds them. */
export class MetricsExport {
  private readonly keyFields: Field[] = [];
  private readonly keyReaders: KeyReader[] = [];
  private readonly counters: NumberMetric[] = [];
  private readonly gauges: NumberMetric[] = [];
  private readonly histograms: HistogramMetric[] = [];
  private readonly counterReaders: ((b: Batch, i: number) => number)[] = [];
  private readonly gaugeReaders: ((b: Batch, i: number) => number)[] = [];
  private readonly series = new Map<string | number | boolean, Series>();
  private readonly dirty: Series[] = [];
  private readonly sinks: Sink[] = [];
  private native?: NativeLink;
  /** Told about keys the native aggregator could not keep (more than NATIVE_MAX_KEYS). */
  onNativeWarning?: (message: string) => void;
  /** One static string key (proc.comm): its bytes are compared with the previous record's before decoding. */
  private readonly rawKey?: { offs: number; size: number; last: Uint8Array; lastLen: number; series?: Series };

  /** Validates the field roles; throws MetricsConfigError naming the field. */
  constructor(readonly ds: DataSource, readonly scopeName: string) {
    const implicit = ds.annotations.get(ANN_IMPLICIT_COUNTER_NAME);
    if (implicit) {
      this.counters.push({ name: implicit, field: null, description: ds.annotations.get(ANN_IMPLICIT_COUNTER_DESCRIPTION), valueType: ValueType.INT });
      this.counterReaders.push(() => 1);
    }
    for (const f of ds.fields) {
      if (f.isEmpty || f.unreferenced) continue;
      const role = metricRole(f);
      if (!role) continue;
      const where = `data source ${ds.name}: field ${f.fullName} (${kindName(f.kind)})`;
      if (role === 'key') {
        this.keyFields.push(f);
        this.keyReaders.push(keyReader(f));
        continue;
      }
      if (role === 'histogram') {
        if (isArrayKind(f.kind)) {
          const el = baseKind(f.kind);
          if (el !== Kind.Uint32 && el !== Kind.Uint64) throw new MetricsConfigError(`${where}: metrics.type=histogram on an array needs u32/u64 log2 slots`);
          this.histograms.push({ field: f, name: metricName(f), slots: Math.floor(f.size / (el === Kind.Uint32 ? 4 : 8)), log2: true });
        } else {
          if (!isNumericKind(f.kind)) throw new MetricsConfigError(`${where}: metrics.type=histogram needs a numeric field`);
          this.histograms.push({ field: f, name: metricName(f), slots: 0, log2: false });
        }
        continue;
      }
      if (isArrayKind(f.kind) || !isNumericKind(f.kind)) throw new MetricsConfigError(`${where}: metrics.type=${role} needs a numeric field`);
      const m: NumberMetric = {
        name: metricName(f), field: f, description: f.annotation('metrics.description'), unit: f.annotation('metrics.unit'),
        valueType: isIntegerKind(f.kind) ? ValueType.INT : ValueType.DOUBLE,
      };
      if (role === 'counter') { this.counters.push(m); this.counterReaders.push(numberReader(f)); } else { this.gauges.push(m); this.gaugeReaders.push(numberReader(f)); }
    }
    const k0 = this.keyFields[0];
    if (this.keyFields.length === 1 && k0!.readsStorage && k0!.storage.type === 'static' && isStringKind(k0!.kind) && !k0!.storage.bitSize) {
      this.rawKey = { offs: k0!.storage.offs, size: k0!.storage.size, last: new Uint8Array(k0!.storage.size), lastLen: -1 };
    }
    for (const h of this.histograms) {
      const b = h.field.annotation('metrics.boundaries');
      if (b && !h.log2 && b.split(',').some((x) => x.trim() === '' || !Number.isFinite(Number(x)))) {
        throw new MetricsConfigError(`data source ${ds.name}: field ${h.field.fullName}: invalid metrics.boundaries "${b}" (expected a comma list of numbers)`);
      }
    }
  }

  get hasValues(): boolean { return this.counters.length + this.gauges.length + this.histograms.length > 0; }

  /** Names of what is exported (for -v). */
  describe(): string {
    const parts = [
      ...this.counters.map((c) => `counter ${c.name}`), ...this.gauges.map((g) => `gauge ${g.name}`),
      ...this.histograms.map((h) => `histogram ${h.name}${h.log2 ? ' (log2 slots)' : ''}`),
    ];
    return `${parts.join(', ')}${this.keyFields.length ? ` by ${this.keyFields.map((f) => metricName(f)).join(', ')}` : ''}`;
  }

  /** Create the instruments on a meter. */
  register(meter: Meter): void {
    const sink: Sink = {
      counters: this.counters.map((c) => meter.createCounter(c.name, { description: c.description, unit: c.unit, valueType: c.valueType })),
      gauges: this.gauges.map((g) => meter.createGauge(g.name, { description: g.description, unit: g.unit, valueType: g.valueType })),
      histograms: [],
    };
    this.sinks.push(sink);
    const hook = meter.createObservableGauge(DRAIN_HOOK, { description: 'not exported: drains reader-thread counts before a collection' });
    meter.addBatchObservableCallback(() => this.sync(), [hook]);
    for (const h of this.histograms) {
      const f = h.field;
      const unit = f.annotation('metrics.unit');
      const description = f.annotation('metrics.description');
      const boundaries = h.log2
        ? Array.from({ length: h.slots }, (_, i) => 2 ** i)
        : f.annotation('metrics.boundaries')?.split(',').map(Number);
      sink.histograms.push(meter.createHistogram(h.name, {
        ...(description ? { description } : {}), ...(unit ? { unit } : {}),
        valueType: h.log2 || isIntegerKind(f.kind) ? ValueType.INT : ValueType.DOUBLE,
        ...(boundaries ? { advice: { explicitBucketBoundaries: boundaries } } : {}),
      }));
    }
  }

  private seriesOf(id: string | number | boolean, b: Batch, i: number): Series {
    let s = this.series.get(id);
    if (s) return s;
    const attrs: Attributes = {};
    this.keyFields.forEach((f, k) => { attrs[metricName(f)] = this.keyReaders[k]!(b, i); });
    s = { attrs, values: new Float64Array(this.counters.length + this.gauges.length), pending: this.histograms.map(() => []), dirty: false };
    this.series.set(id, s);
    return s;
  }

  /** The series id of record i: what tells series apart. */
  private keyId(b: Batch, i: number): string | number | boolean {
    const nk = this.keyReaders.length;
    if (nk === 0) return '';
    if (nk === 1) return this.keyReaders[0]!(b, i);
    let t = '';
    for (let k = 0; k < nk; k++) t += `${String(this.keyReaders[k]!(b, i))}\u0000`;
    return t;
  }

  /**
   * How the reader thread can do this aggregation, or why it cannot: every key is record bytes or derived from
   * record bytes only (the aggregator keys by those bytes; JS computes the attributes once per new key), every
   * counter and gauge a plain numeric member, every histogram log2 slots.
   */
  nativeSpec(): { spec: MetricsAggregatorSpec; ttlMs: number; invalidations: Invalidation[] } | { reason: string } {
    const keys: AggKeyRange[] = [];
    let ttlMs = 0;
    const invalidations: Invalidation[] = [];
    for (const f of this.keyFields) {
      const r = rawRange(f);
      if (r) { keys.push(r); continue; }
      const d = derivationOf(f);
      if (!d || d.kind !== 'computed' || f.storage.type === 'column') return { reason: `key ${f.fullName} is computed in JS from more than record bytes` };
      for (const inp of d.inputs) {
        const ir = rawRange(inp);
        if (!ir) return { reason: `key ${f.fullName} follows from ${inp.fullName}, which is not record bytes` };
        keys.push(ir);
      }
      if (d.ttlMs && (!ttlMs || d.ttlMs < ttlMs)) ttlMs = d.ttlMs;
      if (d.invalidation && !invalidations.includes(d.invalidation)) invalidations.push(d.invalidation);
    }
    const ops: AggValueOp[] = [];
    const valueOp = (f: Field, last: boolean): AggValueOp | undefined => {
      const r = rawRange(f);
      if (!r || !isNumericKind(f.kind)) return undefined;
      const op = isIntegerKind(f.kind) ? (isSignedKind(f.kind) ? (last ? AggOp.LastS : AggOp.SumS) : (last ? AggOp.LastU : AggOp.SumU)) : (last ? AggOp.LastF : AggOp.SumF);
      return { op, offset: r.offset, size: r.size };
    };
    for (const c of this.counters) {
      const op = c.field ? valueOp(c.field, false) : { op: AggOp.Count, offset: 0, size: 0 };
      if (!op) return { reason: `counter ${c.name} is not a numeric member of the record` };
      ops.push(op);
    }
    for (const g of this.gauges) {
      const op = valueOp(g.field!, true);
      if (!op) return { reason: `gauge ${g.name} is not a numeric member of the record` };
      ops.push(op);
    }
    for (const h of this.histograms) {
      const r = rawRange(h.field);
      if (!h.log2 || !r) return { reason: `histogram ${h.name} records each value in JS` };
      ops.push({ op: AggOp.SlotsU, offset: r.offset, size: baseKind(h.field.kind) === Kind.Uint32 ? 4 : 8, slots: h.slots });
    }
    return { spec: { keys, ops, maxKeys: NATIVE_MAX_KEYS }, ttlMs, invalidations };
  }

  /** Count on the reader thread with `agg` (built from nativeSpec) from now on; JS drains it when it collects. */
  attachNative(agg: MetricsAggregator, ttlMs: number, invalidations: Invalidation[]): void {
    const link: NativeLink = { agg, slots: [], resetPending: false, ttlMs, lastReset: Date.now(), overflowSeen: 0, unsubscribe: [] };
    for (const inv of invalidations) link.unsubscribe.push(inv(() => { link.resetPending = true; }));
    this.native = link;
  }

  /** Stop following what derived keys depend on (the run ended); what was counted can still be drained. */
  detachInvalidations(): void {
    for (const u of this.native?.unsubscribe ?? []) u();
    if (this.native) this.native.unsubscribe = [];
  }

  /** Take what the reader thread counted since the last call into the series (no-op without a native link). */
  sync(): void {
    const n = this.native;
    if (!n) return;
    const now = Date.now();
    const reset = n.resetPending || (n.ttlMs > 0 && now - n.lastReset >= n.ttlMs);
    const d = n.agg.drain(reset);
    const spec = n.agg.spec;
    const klen = n.agg.keyLength;
    const newKeys = d.newKeys;
    for (let base = 0; base < newKeys; base += KEY_CHUNK) {
      const m = Math.min(KEY_CHUNK, newKeys - base);
      // Records that hold only the key bytes: every key field reads those (or follows from them alone).
      const b = this.ds.newBatch(m);
      for (let k = 0; k < m; k++) {
        let at = (base + k) * klen;
        for (const r of spec.keys) {
          d.keys.copy(b.buf, b.offs[k]! + r.offset, at, at + r.size);
          at += r.size;
        }
      }
      for (let k = 0; k < m; k++) n.slots[d.firstId + base + k] = this.seriesOf(this.keyId(b, k), b, k);
    }
    const cells = n.agg.cells;
    const nc = this.counters.length;
    const ng = this.gauges.length;
    const dl = d.deltas;
    for (let p = 0; p < dl.length; p += 2 + cells) {
      const s = n.slots[dl[p]!];
      if (!s) continue; // cannot happen: a slot's key is drained no later than its first delta
      const v = s.values;
      let c = p + 2;
      for (let k = 0; k < nc; k++) v[k]! += dl[c++]!;
      if (ng && dl[p + 1]! >= (s.seq ?? -1)) {
        s.seq = dl[p + 1]!;
        for (let k = 0; k < ng; k++) v[nc + k] = dl[c + k]!;
      }
      c += ng;
      for (let k = 0; k < this.histograms.length; k++) {
        const acc = s.pending[k]!;
        for (let j = 0; j < this.histograms[k]!.slots; j++) acc[j] = (acc[j] ?? 0) + dl[c++]!;
      }
      if (!s.dirty) { s.dirty = true; this.dirty.push(s); }
    }
    this.flush();
    if (reset) { n.slots = []; n.resetPending = false; n.lastReset = now; }
    if (d.overflow > n.overflowSeen) {
      this.onNativeWarning?.(`metrics: ${this.ds.name}: more than ${NATIVE_MAX_KEYS} distinct keys; ${d.overflow - n.overflowSeen} records of further keys were not counted`);
      n.overflowSeen = d.overflow;
    }
  }

  /**
   * A consumer that does this aggregation on the reader thread in place of `sub` (the JS subscriber of the data
   * source), or why it cannot. `warn` hears about keys or records the aggregator could not count.
   */
  aggregateConsumer(sub: (b: Batch) => void, warn: (m: string) => void, debug: (m: string) => void): { consumer: DataSourceAggregateConsumer } | { reason: string } {
    const ns = this.nativeSpec();
    if ('reason' in ns) return ns;
    let aggregator: MetricsAggregator;
    try {
      aggregator = MetricsAggregator.create(ns.spec);
    } catch (e) {
      // A spec the aggregator refuses (e.g. more than 4096 histogram slots) is counted in JS instead.
      return { reason: (e as Error).message };
    }
    this.onNativeWarning = warn;
    return {
      consumer: {
        aggregator, standsInFor: sub,
        attached: () => {
          this.attachNative(aggregator, ns.ttlMs, ns.invalidations);
          debug(`metrics: ${this.ds.name} counted per key on the reader thread (${ns.spec.keys.length} key ranges, ${aggregator.cells} cells)`);
        },
      },
    };
  }

  /** True when the reader thread does this aggregation. */
  get aggregatesNatively(): boolean { return this.native !== undefined; }

  /** Aggregate one batch: a map lookup per record, then one histogram flush per series. */
  collect(b: Batch): void {
    const live = b.live;
    const nk = this.keyReaders.length;
    const k0 = this.keyReaders[0];
    const cr = this.counterReaders;
    const gr = this.gaugeReaders;
    const nc = cr.length;
    const hs = this.histograms;
    const raw = this.rawKey;
    const buf = b.buf;
    for (let n = 0; n < b.liveCount; n++) {
      const i = live[n]!;
      let s: Series | undefined;
      if (raw) {
        // Storms come in runs of one command: equal bytes up to the NUL mean the previous record's series, without
        // decoding a string or a map lookup.
        const o = b.offs[i]! + raw.offs;
        let len = 0;
        while (len < raw.size && buf[o + len] !== 0) len++;
        if (len === raw.lastLen) {
          let j = 0;
          while (j < len && buf[o + j] === raw.last[j]) j++;
          if (j === len) s = raw.series;
        }
        if (!s) {
          for (let j = 0; j < len; j++) raw.last[j] = buf[o + j]!;
          raw.lastLen = len;
          s = this.seriesOf(k0!(b, i), b, i);
          raw.series = s;
        }
      } else {
        let id: string | number | boolean;
        if (nk === 0) id = '';
        else if (nk === 1) id = k0!(b, i);
        else { let t = ''; for (let k = 0; k < nk; k++) t += `${String(this.keyReaders[k]!(b, i))}\u0000`; id = t; }
        s = this.seriesOf(id, b, i);
      }
      const v = s.values;
      for (let k = 0; k < nc; k++) v[k]! += cr[k]!(b, i);
      for (let k = 0; k < gr.length; k++) v[nc + k] = gr[k]!(b, i);
      if (!s.dirty) { s.dirty = true; this.dirty.push(s); }
      for (let k = 0; k < hs.length; k++) {
        const h = hs[k]!;
        const val = h.field.get(b, i);
        const acc = s.pending[k]!;
        if (h.log2) {
          if (!Array.isArray(val)) continue;
          for (let j = 0; j < val.length; j++) acc[j] = (acc[j] ?? 0) + Number(val[j]);
        } else acc.push(Number(val ?? 0));
      }
    }
    this.flush();
  }

  /** Hand what the touched series gathered to every sink: a few SDK calls per series, not per record. */
  private flush(): void {
    const nc = this.counters.length;
    const ng = this.gauges.length;
    for (const s of this.dirty) {
      s.dirty = false;
      const v = s.values;
      for (let k = 0; k < nc; k++) {
        if (v[k] === 0) continue;
        for (const sink of this.sinks) sink.counters[k]!.add(v[k]!, s.attrs);
        v[k] = 0;
      }
      for (let k = 0; k < ng; k++) for (const sink of this.sinks) sink.gauges[k]!.record(v[nc + k]!, s.attrs);
      this.histograms.forEach((h, k) => {
        const acc = s.pending[k]!;
        if (h.log2) {
          // The SDK takes one value per record; slot j's count becomes that many records of 2^j (upstream does the
          // same), which lands in bucket (2^(j-1), 2^j].
          for (let j = 0; j < acc.length; j++) {
            const c = acc[j] ?? 0;
            for (const sink of this.sinks) for (let r = 0; r < c; r++) sink.histograms[k]!.record(2 ** j, s.attrs);
          }
        } else for (const x of acc) for (const sink of this.sinks) sink.histograms[k]!.record(x, s.attrs);
        s.pending[k] = [];
      });
    }
    this.dirty.length = 0;
  }

  /** Distinct key combinations seen so far. */
  get seriesCount(): number { return this.series.size; }
}
