// otel-metrics' input checks that need no OpenTelemetry code (every run validates its params; only runs that
// export load the SDK): the listen address, named exporters from the configuration file and the error classes.
import { configDuration, ExporterError, otlpExporterConfig } from '../../otel/config.js';

/** A data source's metrics annotations or --otel-metrics-name do not fit together. */
export class MetricsConfigError extends Error {}

export { ExporterError };

/** "host:port", "[v6]:port" or ":port" → listen arguments. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ExporterError(`invalid value "${addr}" for --otel-metrics-listen-address: expected host:port, e.g. 0.0.0.0:2224`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface MetricsExporterConfig {
  exporter: string;
  endpoint: string;
  insecure: boolean;
  temporality: 'cumulative' | 'delta';
  intervalMs: number;
  collectIGMetrics: boolean;
}

/** The config of a named metrics exporter; unknown names and bad fields are one line naming the key. */
export function metricsExporterConfig(name: string): MetricsExporterConfig {
  const { where, raw, endpoint, insecure } = otlpExporterConfig('operator.otel-metrics.exporters', '--otel-metrics-exporter', name);
  const temporality = String(raw.temporality ?? 'cumulative') || 'cumulative';
  if (temporality !== 'cumulative' && temporality !== 'delta') throw new ExporterError(`${where}.temporality: "${temporality}" is not cumulative or delta`);
  // 60 s: the SDK's and upstream's default.
  const intervalMs = configDuration(`${where}.interval`, raw.interval, 60000);
  return { exporter: 'otlp-grpc', endpoint, insecure, temporality, intervalMs, collectIGMetrics: raw.collectigmetrics === true || raw.collectigmetrics === 'true' };
}
