// otel-metrics (priority 9995), print mode (ig-spec §8.2): a data source annotated `metrics.print: "true"` is
// aggregated here instead of being printed record by record. Its fields take roles from `metrics.type` or, when
// absent, from their BTF typedefs:
//   key        (metrics.type: key)                                   → one series per distinct set of key values;
//   histogram  (gadget_histogram_slot__u32/u64 arrays, or metrics.type: histogram on such an array)
//                                                                    → log2 slots, summed over every record;
//   counter    (gadget_counter__*, metrics.type: counter)            → summed;
//   gauge      (gadget_gauge__*, metrics.type: gauge)                → last value.
// The original data source is unreferenced (outputs skip it) and a single data source `<ds>-rendered` carries one
// record per series: `text` (text/plain, what the `histogram` output mode and columns print), one JSON field per
// histogram ({"unit","intervals"}, emitted raw by the JSON output) and the key and number fields. It is emitted when
// the gadget stops (after the last map fetch) and, with --otel-metrics-print-interval, also every interval
// (cumulative, redrawn like `top` on a terminal).
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { Batch, DataSource, Field, Kind, baseKind, isArrayKind, isIntegerKind } from '../../datasource/index.js';
import { parseDuration } from '../../gadget/params.js';
import { addSlots, histogramJson, intervalsFromLog2Slots, renderHistogram, type Histogram } from './histogram.js';

export const PRINT_SUFFIX = 'rendered';
export const TEXT_FIELD = 'text';
export const HISTOGRAM_MODE = 'histogram';
const MIN_PRINT_INTERVAL_MS = 25;

type Role = 'key' | 'histogram' | 'counter' | 'gauge';

export function metricRole(f: Field): Role | undefined {
  const t = f.annotation('metrics.type');
  if (t === 'key' || t === 'counter' || t === 'gauge' || t === 'histogram') return t;
  if (t) return undefined;
  const types = f.typeNames();
  if (types.some((x) => x.startsWith('gadget_histogram_slot__'))) return 'histogram';
  if (types.some((x) => x.startsWith('gadget_counter__'))) return 'counter';
  if (types.some((x) => x.startsWith('gadget_gauge__'))) return 'gauge';
  return undefined;
}

interface Series { labels: [string, string][]; hist: Map<Field, number[]>; num: Map<Field, number> }

/** Aggregates one printed data source and renders its series. */
export class MetricsCollector {
  readonly keys: Field[] = [];
  readonly histograms: Field[] = [];
  readonly counters: Field[] = [];
  readonly gauges: Field[] = [];
  private readonly series = new Map<string, Series>();

  constructor(readonly ds: DataSource) {
    for (const f of ds.fields) {
      if (f.isEmpty || f.unreferenced) continue;
      const role = metricRole(f);
      if (role === 'key') this.keys.push(f);
      else if (role === 'histogram') {
        if (!isArrayKind(f.kind) || !isIntegerKind(baseKind(f.kind))) throw new Error(`data source ${ds.name}: histogram field ${f.fullName} must be an array of u32/u64 log2 slots`);
        this.histograms.push(f);
      } else if (role === 'counter') this.counters.push(f);
      else if (role === 'gauge') this.gauges.push(f);
    }
  }

  get hasValues(): boolean { return this.histograms.length + this.counters.length + this.gauges.length > 0; }

  collect(b: Batch): void {
    for (let k = 0; k < b.liveCount; k++) {
      const i = b.live[k]!;
      const labels: [string, string][] = this.keys.map((f) => [f.name, valueText(f.get(b, i))]);
      const id = JSON.stringify(labels);
      let s = this.series.get(id);
      if (!s) {
        s = { labels, hist: new Map(), num: new Map() };
        this.series.set(id, s);
      }
      for (const f of this.histograms) {
        const v = f.get(b, i);
        if (!Array.isArray(v)) continue;
        let acc = s.hist.get(f);
        if (!acc) { acc = []; s.hist.set(f, acc); }
        addSlots(acc, v);
      }
      for (const f of this.counters) s.num.set(f, (s.num.get(f) ?? 0) + Number(f.get(b, i) ?? 0));
      for (const f of this.gauges) s.num.set(f, Number(f.get(b, i) ?? 0));
    }
  }

  /** Series in a stable order; one empty series when nothing was collected (so the output shows the metric). */
  snapshot(): Series[] {
    const out = [...this.series.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, s]) => s);
    if (out.length === 0) out.push({ labels: this.keys.map((f) => [f.name, ''] as [string, string]), hist: new Map(), num: new Map() });
    return out;
  }

  histogramOf(s: Series, f: Field): Histogram {
    const unit = f.annotation('metrics.unit');
    return { ...(unit ? { unit } : {}), intervals: intervalsFromLog2Slots(s.hist.get(f) ?? []) };
  }

  /** Upstream's print layout: the metric name, then the histogram; labels that carry a value follow the name. */
  text(s: Series): string {
    const shown = s.labels.filter(([, v]) => v !== '' && v !== '0');
    const suffix = shown.length ? ` [${shown.map(([k, v]) => `${k}=${v}`).join(', ')}]` : '';
    let out = '';
    for (const f of this.histograms) {
      const h = this.histogramOf(s, f);
      const body = renderHistogram(h) || `${' '.repeat(8)}${(h.unit ?? '').padEnd(16)} : count    distribution\n`;
      out += `${f.name}${suffix}\n${body}\n`;
    }
    for (const f of [...this.counters, ...this.gauges]) out += `${f.name}${suffix}: ${s.num.get(f) ?? 0}\n`;
    return out;
  }
}

function valueText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return String(v);
}

/** The rendered data source of one collector, and how to fill a batch of it. */
export class RenderedSource {
  readonly ds: DataSource;
  private readonly textField: Field;
  private readonly keyFields: Field[] = [];
  private readonly histFields: Field[] = [];
  private readonly numFields: Field[] = [];

  constructor(ctx: GadgetContext, readonly collector: MetricsCollector) {
    const src = collector.ds;
    this.ds = ctx.addDataSource(`${src.name}-${PRINT_SUFFIX}`, 'single');
    const ann = this.ds.annotations;
    ann.set('cli.supported-output-modes', HISTOGRAM_MODE);
    ann.set('cli.default-output-mode', HISTOGRAM_MODE);
    ann.set('cli.clear-screen-before', 'true');
    // The original's annotations, except its own output choices (it is not printed itself).
    for (const [k, v] of src.annotations) if (!k.startsWith('cli.')) ann.set(k, v);
    this.textField = this.ds.addField({ name: TEXT_FIELD, kind: Kind.String, annotations: { 'content-type': 'text/plain', 'json.skip': 'true', description: 'Rendered metrics' } });
    const used = new Set([TEXT_FIELD]);
    const unique = (f: Field) => { const n = used.has(f.name) ? f.fullName.replace(/\./g, '_') : f.name; used.add(n); return n; };
    for (const f of collector.keys) this.keyFields.push(this.ds.addField({ name: unique(f), kind: Kind.String, annotations: { 'columns.hidden': 'true', description: f.annotation('description') ?? '' } }));
    for (const f of collector.histograms) this.histFields.push(this.ds.addField({ name: unique(f), kind: Kind.String, annotations: { 'content-type': 'application/json', 'columns.hidden': 'true', description: f.annotation('description') ?? '' } }));
    for (const f of [...collector.counters, ...collector.gauges]) this.numFields.push(this.ds.addField({ name: unique(f), kind: Kind.Float64, annotations: { 'columns.hidden': 'true', description: f.annotation('description') ?? '' } }));
  }

  emit(): void {
    const c = this.collector;
    const series = c.snapshot();
    const b = Batch.empty(this.ds, series.length);
    series.forEach((s, i) => {
      this.textField.set(b, i, c.text(s));
      s.labels.forEach(([, v], k) => this.keyFields[k]!.set(b, i, v));
      c.histograms.forEach((f, k) => this.histFields[k]!.set(b, i, histogramJson(c.histogramOf(s, f))));
      [...c.counters, ...c.gauges].forEach((f, k) => this.numFields[k]!.set(b, i, s.num.get(f) ?? 0));
    });
    this.ds.emit(b);
  }
}

export const otelMetricsOperator: DataOperator = {
  name: 'otel-metrics',
  priority: 9995,
  instantiate(ctx: GadgetContext): OperatorInstance | null {
    const printed = [...ctx.dataSources.values()].filter((ds) => ds.annotations.get('metrics.print') === 'true');
    if (printed.length === 0) return null;
    const rendered: RenderedSource[] = [];
    for (const ds of printed) {
      const c = new MetricsCollector(ds);
      if (!c.hasValues) { ctx.log.debug(`metrics.print on ${ds.name}: no metric fields, printed as is`); continue; }
      // Outputs skip the original: its records only feed the metrics.
      ds.referenced = false;
      rendered.push(new RenderedSource(ctx, c));
    }
    if (rendered.length === 0) return null;
    let timer: NodeJS.Timeout | undefined;
    let started = false;
    return {
      name: 'otel-metrics',
      params: () => [{
        key: 'otel-metrics-print-interval', prefix: 'operator.otel-metrics.', defaultValue: '0', typeHint: 'duration',
        description: 'Also print the metrics every interval (cumulative; e.g. 1s); 0: only when the gadget stops',
        validate: (v) => { const ms = parseDuration(v); return ms !== 0 && ms < MIN_PRINT_INTERVAL_MS ? `the shortest interval is ${MIN_PRINT_INTERVAL_MS}ms` : undefined; },
      }],
      preStart() {
        for (const r of rendered) r.collector.ds.subscribe((b) => r.collector.collect(b), 9995);
      },
      start() {
        started = true;
        const ms = parseDuration(ctx.params.get('operator.otel-metrics.otel-metrics-print-interval') ?? '0');
        if (ms > 0) timer = setInterval(() => { for (const r of rendered) r.emit(); }, ms);
      },
      stop() {
        if (timer) clearInterval(timer);
        timer = undefined;
      },
      // After every stop: the eBPF operator's last map fetch has been collected.
      postStop() {
        if (!started) return; // the run failed before starting: nothing to report
        for (const r of rendered) r.emit();
      },
    };
  },
};
