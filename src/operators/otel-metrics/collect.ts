// Export mode of otel-metrics (`metrics.collect: "true"`): a data source's records become OpenTelemetry
// instruments on a Meter named after the data source (or --otel-metrics-name ds:name), as upstream does:
//   key        fields → attributes (name: metrics.name or the field's full name; bytes as base64);
//   counter    fields → a counter that adds the value (Int or Double by the field's kind);
//   gauge      fields → a gauge holding the last value;
//   histogram  fields → a histogram of the value with `metrics.boundaries`, or, for gadget_histogram_slot__*
//                       arrays, log2 buckets (boundaries 1, 2, 4, …, 2^(n-1)) filled from the slot counts;
//   metrics.implicit-counter.name on the data source → a counter of records.
// Records are aggregated per batch by their key values in plain maps; counters and gauges reach the SDK as
// observable instruments read when a reader collects (a scrape, a periodic export), so a storm of events costs a
// map update each and no SDK call at all. Histograms are recorded per series once per batch.
import type { Attributes, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { baseKind, isArrayKind, isIntegerKind, isNumericKind, isStringKind, Kind, kindName, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import { metricRole } from './roles.js';
import { MetricsConfigError } from './config.js';

export { MetricsConfigError };

export const ANN_IMPLICIT_COUNTER_NAME = 'metrics.implicit-counter.name';
export const ANN_IMPLICIT_COUNTER_DESCRIPTION = 'metrics.implicit-counter.description';

type KeyReader = (b: Batch, i: number) => string | number | boolean;

interface NumberMetric { name: string; field: Field | null; description?: string; unit?: string; valueType: ValueType }
interface HistogramMetric { field: Field; name: string; slots: number; log2: boolean; instrument?: Histogram }

interface Series {
  attrs: Attributes;
  /** Running totals of the counters (implicit counter first), then last values of the gauges. */
  values: Float64Array;
  /** Per histogram: values of this batch (plain fields) or summed slot counts (log2 arrays). */
  pending: number[][];
  dirty: boolean;
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
    const nc = this.counters.length;
    this.counters.forEach((c, k) => {
      const inst = meter.createObservableCounter(c.name, { description: c.description, unit: c.unit, valueType: c.valueType });
      inst.addCallback((r: ObservableResult) => { for (const s of this.series.values()) r.observe(s.values[k]!, s.attrs); });
    });
    this.gauges.forEach((g, k) => {
      const inst = meter.createObservableGauge(g.name, { description: g.description, unit: g.unit, valueType: g.valueType });
      inst.addCallback((r: ObservableResult) => { for (const s of this.series.values()) r.observe(s.values[nc + k]!, s.attrs); });
    });
    for (const h of this.histograms) {
      const f = h.field;
      const unit = f.annotation('metrics.unit');
      const description = f.annotation('metrics.description');
      const boundaries = h.log2
        ? Array.from({ length: h.slots }, (_, i) => 2 ** i)
        : f.annotation('metrics.boundaries')?.split(',').map(Number);
      h.instrument = meter.createHistogram(h.name, {
        ...(description ? { description } : {}), ...(unit ? { unit } : {}),
        valueType: h.log2 || isIntegerKind(f.kind) ? ValueType.INT : ValueType.DOUBLE,
        ...(boundaries ? { advice: { explicitBucketBoundaries: boundaries } } : {}),
      });
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
      if (hs.length === 0) continue;
      for (let k = 0; k < hs.length; k++) {
        const h = hs[k]!;
        const val = h.field.get(b, i);
        const acc = s.pending[k]!;
        if (h.log2) {
          if (!Array.isArray(val)) continue;
          for (let j = 0; j < val.length; j++) acc[j] = (acc[j] ?? 0) + Number(val[j]);
        } else acc.push(Number(val ?? 0));
      }
      if (!s.dirty) { s.dirty = true; this.dirty.push(s); }
    }
    this.flushHistograms();
  }

  private flushHistograms(): void {
    for (const s of this.dirty) {
      s.dirty = false;
      this.histograms.forEach((h, k) => {
        const acc = s.pending[k]!;
        if (h.log2) {
          // The SDK takes one value per record; slot j's count becomes that many records of 2^j (upstream does the
          // same), which lands in bucket (2^(j-1), 2^j].
          for (let j = 0; j < acc.length; j++) {
            const c = acc[j] ?? 0;
            for (let r = 0; r < c; r++) h.instrument?.record(2 ** j, s.attrs);
          }
        } else for (const v of acc) h.instrument?.record(v, s.attrs);
        s.pending[k] = [];
      });
    }
    this.dirty.length = 0;
  }

  /** Distinct key combinations seen so far. */
  get seriesCount(): number { return this.series.size; }
}
