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
import { parseBool, parseDuration } from '../../gadget/params.js';
// Type-only imports of the OpenTelemetry side (erased): a run that exports nothing never loads the SDK; preStart
// imports it when --otel-metrics-listen or --otel-metrics-exporter asks for it.
import type { MeterProvider } from '@opentelemetry/api';
import type { MetricsExport } from './collect.js';
import type { OtlpMetricsProvider, PrometheusEndpoint } from './providers.js';
import { ExporterError, MetricsConfigError, metricsExporterConfig, parseListenAddress } from './config.js';
import { parseNameMappings as parseMappings } from '../perds.js';
import { gadgetStarted, gadgetStopped, trackDataSources } from './internals.js';
import { metricRole } from './roles.js';
import { addSlots, histogramJson, intervalsFromLog2Slots, renderHistogram, type Histogram } from './histogram.js';

export { metricRole } from './roles.js';
export const PRINT_SUFFIX = 'rendered';
export const TEXT_FIELD = 'text';
export const HISTOGRAM_MODE = 'histogram';
const MIN_PRINT_INTERVAL_MS = 25;

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

const P = 'operator.otel-metrics.';

/** The process's Prometheus endpoint, created by the first run that listens (upstream's global registry). */
let endpoint: { address: string; ep: PrometheusEndpoint } | undefined;
const otlpProviders = new Map<string, OtlpMetricsProvider>();

async function prometheusEndpoint(address: string, prefix: string): Promise<PrometheusEndpoint> {
  if (endpoint) {
    if (endpoint.address !== address) throw new ExporterError(`--otel-metrics-listen-address ${address}: this process already serves metrics on ${endpoint.address}`);
    return endpoint.ep;
  }
  const { PrometheusEndpoint } = await import('./providers.js');
  const ep = new PrometheusEndpoint(prefix);
  await ep.listen(address);
  endpoint = { address, ep };
  return ep;
}

/** Stop serving (tests and the end of a process that ran gadgets in-process). */
export async function closeMetricsEndpoints(): Promise<void> {
  const e = endpoint;
  endpoint = undefined;
  await e?.ep.close();
  for (const p of otlpProviders.values()) await p.close();
  otlpProviders.clear();
}

export function parseNameMappings(v: string): Map<string, string> {
  return parseMappings(v, '--otel-metrics-name');
}

export const otelMetricsOperator: DataOperator = {
  name: 'otel-metrics',
  priority: 9995,
  globalParams: () => [
    { key: 'otel-metrics-listen', prefix: P, typeHint: 'bool', defaultValue: 'false', description: 'Enable the OpenTelemetry metrics listener (Prometheus compatible) endpoint' },
    { key: 'otel-metrics-listen-address', prefix: P, defaultValue: '0.0.0.0:2224', description: 'Address and port of the OpenTelemetry metrics listener (Prometheus compatible); metrics are on /metrics',
      validate: (v) => { try { parseListenAddress(v); return undefined; } catch { return 'expected host:port, e.g. 127.0.0.1:2224'; } } },
    { key: 'otel-metrics-export-internals', prefix: P, typeHint: 'bool', defaultValue: 'false', description: 'Export ig\'s own metrics (gadgets running, events, lost events, memory)' },
    { key: 'otel-metrics-prefix', prefix: P, defaultValue: '', description: 'Prefix for every metric name on the Prometheus endpoint, e.g. ig_ (not in upstream)' },
  ],
  instantiate(ctx: GadgetContext): OperatorInstance | null {
    const printed = [...ctx.dataSources.values()].filter((ds) => ds.annotations.get('metrics.print') === 'true');
    const collected = [...ctx.dataSources.values()].filter((ds) => ds.annotations.get('metrics.collect') === 'true');
    const rendered: RenderedSource[] = [];
    for (const ds of printed) {
      const c = new MetricsCollector(ds);
      if (!c.hasValues) { ctx.log.debug(`metrics.print on ${ds.name}: no metric fields, printed as is`); continue; }
      // Outputs skip the original: its records only feed the metrics.
      ds.referenced = false;
      rendered.push(new RenderedSource(ctx, c));
    }
    let timer: NodeJS.Timeout | undefined;
    let started = false;
    let running = false;
    const pushed: OtlpMetricsProvider[] = [];
    const exports: MetricsExport[] = [];
    let syncTimer: NodeJS.Timeout | undefined;
    return {
      name: 'otel-metrics',
      params: () => [
        { key: 'otel-metrics-name', prefix: P, defaultValue: '', description: 'Name (OpenTelemetry scope) of an exported data source: ds:name, comma list for several; required to export' },
        { key: 'otel-metrics-exporter', prefix: P, defaultValue: '', description: 'Named metrics exporter from the config file (operator.otel-metrics.exporters.<name>)' },
        ...(rendered.length ? [{
          key: 'otel-metrics-print-interval', prefix: P, defaultValue: '0', typeHint: 'duration' as const,
          description: 'Also print the metrics every interval (cumulative; e.g. 1s); 0: only when the gadget stops',
          validate: (v: string) => { const ms = parseDuration(v); return ms !== 0 && ms < MIN_PRINT_INTERVAL_MS ? `the shortest interval is ${MIN_PRINT_INTERVAL_MS}ms` : undefined; },
        }] : []),
      ],
      async preStart() {
        for (const r of rendered) r.collector.ds.subscribe((b) => r.collector.collect(b), 9995);
        const listen = parseBool(ctx.params.get(`${P}otel-metrics-listen`));
        const exporterName = ctx.params.get(`${P}otel-metrics-exporter`) ?? '';
        const internals = parseBool(ctx.params.get(`${P}otel-metrics-export-internals`));
        const names = parseNameMappings(ctx.params.get(`${P}otel-metrics-name`) ?? '');
        for (const n of names.keys()) {
          if (n !== '' && !collected.some((ds) => ds.name === n)) {
            throw new MetricsConfigError(`--otel-metrics-name ${n}:${names.get(n)}: ${ctx.dataSources.has(n) ? `data source ${n} is not annotated metrics.collect=true (add --annotate ${n}:metrics.collect=true)` : `the gadget has no data source "${n}"`}`);
          }
        }
        if (!listen && !exporterName) {
          if (collected.length) ctx.log.debug(`metrics.collect on ${collected.map((d) => d.name).join(', ')}: no --otel-metrics-listen or --otel-metrics-exporter, nothing exported`);
          return;
        }
        // Exporting: now the SDK is needed.
        const [{ MetricsExport }, { routeDiagnostics }, { registerInternals }] = await Promise.all([
          import('./collect.js'), import('../../otel/common.js'), import('./internals-meter.js')]);
        // Build (and validate) every collected data source before opening any port.
        for (const ds of collected) {
          const scope = names.get(ds.name) ?? names.get('');
          if (!scope) throw new MetricsConfigError(`data source ${ds.name} has metrics.collect=true: exporting it needs --otel-metrics-name ${ds.name}:NAME`);
          const e = new MetricsExport(ds, scope);
          if (!e.hasValues) { ctx.log.warn(`metrics.collect on ${ds.name}: no field has a metrics.type (and no metrics.implicit-counter.name): nothing to export`); continue; }
          exports.push(e);
        }
        routeDiagnostics((m) => ctx.log.warn(m), (m) => ctx.log.debug(m));
        const providers: MeterProvider[] = [];
        if (exporterName) {
          const cfg = metricsExporterConfig(exporterName);
          let p = otlpProviders.get(exporterName);
          if (!p) { const { OtlpMetricsProvider } = await import('./providers.js'); p = await OtlpMetricsProvider.create(exporterName, cfg); otlpProviders.set(exporterName, p); }
          pushed.push(p);
          providers.push(p.provider);
          if (cfg.collectIGMetrics) registerInternals(p.provider);
          ctx.log.debug(`metrics: pushing to ${cfg.endpoint} (${exporterName}, ${cfg.temporality}, every ${cfg.intervalMs} ms)`);
        }
        if (listen) {
          const ep = await prometheusEndpoint(ctx.params.get(`${P}otel-metrics-listen-address`) ?? '0.0.0.0:2224', ctx.params.get(`${P}otel-metrics-prefix`) ?? '');
          providers.push(ep.provider);
          if (internals) registerInternals(ep.provider);
          ctx.log.debug(`metrics: serving http://${ep.address?.host}:${ep.address?.port}/metrics`);
        }
        if (internals || pushed.some((p) => p.config.collectIGMetrics)) trackDataSources(ctx.name, [...ctx.dataSources.values()]);
        for (const e of exports) {
          for (const p of providers) e.register(p.getMeter(e.scopeName));
          const sub = (b: Batch) => e.collect(b);
          e.ds.subscribe(sub, 9995);
          ctx.log.debug(`metrics: ${e.ds.name} as ${e.scopeName}: ${e.describe()}`);
          // The reader thread counts the records instead when nothing else needs them in JS (the tracer decides).
          const native = e.aggregateConsumer(sub, (m) => ctx.log.warn(m), (m) => ctx.log.debug(m));
          if ('reason' in native) ctx.log.debug(`metrics: ${e.ds.name} aggregated in JS: ${native.reason}`);
          else ctx.aggregateConsumers.offer(e.ds, native.consumer);
        }
      },
      start() {
        started = true;
        running = true;
        gadgetStarted();
        const ms = parseDuration(ctx.params.get(`${P}otel-metrics-print-interval`) ?? '0');
        if (ms > 0 && rendered.length) timer = setInterval(() => { for (const r of rendered) r.emit(); }, ms);
        // Counts kept on reader threads reach the series at every collection and at least every second (histograms
        // are recorded then; the native tables hand over their new keys).
        if (exports.some((e) => e.aggregatesNatively)) {
          syncTimer = setInterval(() => { for (const e of exports) e.sync(); }, 1000);
          syncTimer.unref();
        }
      },
      stop() {
        if (timer) clearInterval(timer);
        timer = undefined;
        if (syncTimer) clearInterval(syncTimer);
        syncTimer = undefined;
        for (const e of exports) e.detachInvalidations();
        if (running) gadgetStopped();
        running = false;
      },
      // After every stop: the eBPF operator's last map fetch has been collected.
      async postStop() {
        if (!started) return; // the run failed before starting: nothing to report
        for (const r of rendered) r.emit();
        // The last values of this run reach the collector before ig exits (bounded: never holds the exit long).
        for (const p of pushed) await p.flush();
      },
    };
  },
};
