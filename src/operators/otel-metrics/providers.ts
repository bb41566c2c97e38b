// Where collected metrics go: the process-wide Prometheus endpoint (--otel-metrics-listen, one per process as
// upstream's global registry) and named OTLP exporters from the configuration file
// (operator.otel-metrics.exporters.<name>), each a MeterProvider of its own, created when first selected.
import { createServer, type Server } from 'node:http';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { activeConfig } from '../../config/config.js';
import { parseDuration } from '../../gadget/params.js';

export class ExporterError extends Error {}

/** The SDK keeps 2000 series per metric by default and folds the rest into one overflow series; a map of
 * 10,000 keys must export every key. */
const CARDINALITY_LIMIT = 1_000_000;
const VIEWS: ViewOptions[] = [{ instrumentName: '*', aggregationCardinalityLimit: CARDINALITY_LIMIT }];

export function igResource(): ReturnType<typeof resourceFromAttributes> {
  return resourceFromAttributes({ 'service.name': 'inspektor-gadget' });
}

/** "host:port", "[v6]:port" or ":port" → listen arguments. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ExporterError(`invalid value "${addr}" for --otel-metrics-listen-address: expected host:port, e.g. 0.0.0.0:2224`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** The process's Prometheus endpoint: one MeterProvider read by a PrometheusExporter, served on /metrics. */
export class PrometheusEndpoint {
  readonly provider: MeterProvider;
  private readonly exporter: PrometheusExporter;
  private server?: Server;
  address?: { host: string; port: number };

  constructor(prefix = '') {
    this.exporter = new PrometheusExporter({ preventServerStart: true, ...(prefix ? { prefix } : {}) });
    this.provider = new MeterProvider({ resource: igResource(), readers: [this.exporter], views: VIEWS });
  }

  /** Listen; a taken port or bad address is one clear error. */
  async listen(addr: string): Promise<void> {
    const { host, port } = parseListenAddress(addr);
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/metrics') { this.exporter.getMetricsRequestHandler(req, res); return; }
      res.statusCode = 404;
      res.end('not found: metrics are on /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
        reject(new ExporterError(`--otel-metrics-listen-address ${addr}: ${why}`));
      });
      server.listen(port, host, () => resolve());
    });
    const a = server.address();
    this.address = a && typeof a === 'object' ? { host: a.address, port: a.port } : { host, port };
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
    await this.provider.shutdown().catch(() => undefined); // nothing left to export: the endpoint is pull-only
  }
}

export interface MetricsExporterConfig {
  exporter: string;
  endpoint: string;
  insecure: boolean;
  temporality: 'cumulative' | 'delta';
  intervalMs: number;
  collectIGMetrics: boolean;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

/** Named exporters of a config section (operator.otel-metrics.exporters / operator.otel-logs.exporters). */
export function configuredExporters(section: string): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(asRecord(activeConfig().fileValue(section)))) out[k] = asRecord(v);
  return out;
}

/** The config of a named exporter; unknown names and bad fields are one line naming the key. */
export function metricsExporterConfig(name: string): MetricsExporterConfig {
  const section = 'operator.otel-metrics.exporters';
  const all = configuredExporters(section);
  const c = all[name.toLowerCase()];
  const where = `${section}.${name}`;
  if (!c) {
    const have = Object.keys(all);
    throw new ExporterError(`unknown metrics exporter "${name}" for --otel-metrics-exporter: ${have.length ? `configured: ${have.join(', ')}` : `none configured (add ${section}.${name} to the config file)`}`);
  }
  const exporter = String(c.exporter ?? '');
  if (exporter !== 'otlp-grpc') throw new ExporterError(`${where}.exporter: unsupported exporter "${exporter}" (supported: otlp-grpc)`);
  const endpoint = String(c.endpoint ?? '');
  if (!endpoint) throw new ExporterError(`${where}.endpoint: required for the otlp-grpc exporter (host:port)`);
  const temporality = String(c.temporality ?? 'cumulative') || 'cumulative';
  if (temporality !== 'cumulative' && temporality !== 'delta') throw new ExporterError(`${where}.temporality: "${temporality}" is not cumulative or delta`);
  let intervalMs = 60000; // the SDK's and upstream's default
  if (c.interval !== undefined && c.interval !== null && c.interval !== '') {
    try { intervalMs = typeof c.interval === 'number' ? c.interval / 1e6 : parseDuration(String(c.interval)); } catch {
      throw new ExporterError(`${where}.interval: "${String(c.interval)}" is not a duration like 10s`);
    }
    if (!(intervalMs > 0)) throw new ExporterError(`${where}.interval: must be positive`);
  }
  return { exporter, endpoint, insecure: c.insecure === true || c.insecure === 'true', temporality, intervalMs, collectIGMetrics: c.collectigmetrics === true || c.collectigmetrics === 'true' };
}

/** host:port → the URL the OTLP gRPC exporter wants (plain text unless TLS). */
export function otlpUrl(endpoint: string, insecure: boolean): string {
  return /^[a-z]+:\/\//.test(endpoint) ? endpoint : `${insecure ? 'http' : 'https'}://${endpoint}`;
}

/** A MeterProvider that pushes to an OTLP/gRPC endpoint every interval. */
export class OtlpMetricsProvider {
  readonly provider: MeterProvider;

  private constructor(readonly name: string, readonly config: MetricsExporterConfig, provider: MeterProvider) {
    this.provider = provider;
  }

  static async create(name: string, config: MetricsExporterConfig): Promise<OtlpMetricsProvider> {
    // Loaded only when an exporter is selected: gRPC and protobuf code is not needed otherwise.
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc');
    const grpc = await import('@grpc/grpc-js');
    const exporter = new OTLPMetricExporter({
      url: otlpUrl(config.endpoint, config.insecure),
      credentials: config.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(),
      temporalityPreference: config.temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
      // An unreachable collector must not hold an export (or the exit) for the SDK's 10 s default.
      timeoutMillis: Math.min(10000, Math.max(1000, config.intervalMs)),
    });
    const reader = new PeriodicExportingMetricReader({
      exporter, exportIntervalMillis: config.intervalMs, exportTimeoutMillis: Math.min(config.intervalMs, 10000),
    });
    return new OtlpMetricsProvider(name, config, new MeterProvider({ resource: igResource(), readers: [reader], views: VIEWS }));
  }

  /** Push what was collected (the end of a run), bounded so an unreachable endpoint cannot hold the exit. */
  async flush(timeoutMs = 3000): Promise<void> {
    await Promise.race([this.provider.forceFlush().catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  async close(): Promise<void> {
    await Promise.race([this.provider.shutdown().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}

/**
 * OpenTelemetry's own diagnostics (failed exports after the exporter's retries with back-off) go to ig's log, at
 * most once per `everyMs` per message kind, so an unreachable collector is reported without flooding stderr.
 */
export function routeDiagnostics(warn: (msg: string) => void, debug: (msg: string) => void, everyMs = 10000): void {
  const last = new Map<string, number>();
  const limited = (msg: string) => {
    const kind = msg.slice(0, 60);
    const now = Date.now();
    if ((last.get(kind) ?? -Infinity) + everyMs > now) return;
    last.set(kind, now);
    warn(msg);
  };
  const text = (m: string, args: unknown[]) => [m, ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a)))].join(' ').replace(/\s+/g, ' ').trim();
  const logger: DiagLogger = {
    error: (m, ...a) => limited(`otel: ${text(m, a)}`),
    warn: (m, ...a) => limited(`otel: ${text(m, a)}`),
    info: (m, ...a) => debug(`otel: ${text(m, a)}`),
    debug: () => undefined,
    verbose: () => undefined,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
}
