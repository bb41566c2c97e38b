// Where collected metrics go: the process-wide Prometheus endpoint (--otel-metrics-listen, one per process as
// upstream's global registry) and named OTLP exporters from the configuration file
// (operator.otel-metrics.exporters.<name>), each a MeterProvider of its own, created when first selected.
import { createServer, type Server } from 'node:http';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { ExporterError, igResource, otlpUrl } from '../../otel/common.js';
import { parseListenAddress, type MetricsExporterConfig } from './config.js';
import { trustedCasPem } from '../../tls/extra-ca.js';

export { ExporterError, metricsExporterConfig, parseListenAddress, type MetricsExporterConfig } from './config.js';

/** The SDK keeps 2000 series per metric by default and folds the rest into one overflow series; a map of
 * 10,000 keys must export every key. */
const CARDINALITY_LIMIT = 1_000_000;
const VIEWS: ViewOptions[] = [{ instrumentName: '*', aggregationCardinalityLimit: CARDINALITY_LIMIT }];

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
      // trustedCasPem: the NODE_EXTRA_CA_CERTS CAs bin/ig kept from node's start (src/tls/extra-ca.ts)
      credentials: config.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(trustedCasPem()),
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
