// The OpenTelemetry operators' configuration that needs no OpenTelemetry code: named exporter sections of the
// configuration file, durations in them and OTLP endpoint URLs. Kept apart from common.ts so that validating
// params and config (every run) does not load the SDK (~10 MiB RSS and start-up time).
import { activeConfig } from '../config/config.js';
import { parseDuration } from '../gadget/params.js';

export class ExporterError extends Error {}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

/** Named exporters of a config section (operator.otel-metrics.exporters / operator.otel-logs.exporters). */
export function configuredExporters(section: string): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(asRecord(activeConfig().fileValue(section)))) out[k] = asRecord(v);
  return out;
}

/** The common part of a named OTLP exporter: it exists, is otlp-grpc and has an endpoint. */
export function otlpExporterConfig(section: string, flag: string, name: string): { where: string; raw: Record<string, unknown>; endpoint: string; insecure: boolean } {
  const all = configuredExporters(section);
  const raw = all[name.toLowerCase()];
  const where = `${section}.${name}`;
  if (!raw) {
    const have = Object.keys(all);
    throw new ExporterError(`unknown ${section.includes('logs') ? 'logs' : 'metrics'} exporter "${name}" for ${flag}: ${have.length ? `configured: ${have.join(', ')}` : `none configured (add ${where} to the config file)`}`);
  }
  const exporter = String(raw.exporter ?? '');
  if (exporter !== 'otlp-grpc') throw new ExporterError(`${where}.exporter: unsupported exporter "${exporter}" (supported: otlp-grpc)`);
  const endpoint = String(raw.endpoint ?? '');
  if (!endpoint) throw new ExporterError(`${where}.endpoint: required for the otlp-grpc exporter (host:port)`);
  return { where, raw, endpoint, insecure: raw.insecure === true || raw.insecure === 'true' };
}

/** A duration from the config file: "10s" (or a number of nanoseconds, as Go's yaml writes time.Duration). */
export function configDuration(where: string, v: unknown, dflt: number): number {
  if (v === undefined || v === null || v === '') return dflt;
  let ms: number;
  try { ms = typeof v === 'number' ? v / 1e6 : parseDuration(String(v)); } catch {
    throw new ExporterError(`${where}: "${String(v)}" is not a duration like 10s`);
  }
  if (!(ms > 0)) throw new ExporterError(`${where}: must be positive`);
  return ms;
}

/** host:port → the URL the OTLP gRPC exporters want (plain text unless TLS). */
export function otlpUrl(endpoint: string, insecure: boolean): string {
  return /^[a-z]+:\/\//.test(endpoint) ? endpoint : `${insecure ? 'http' : 'https'}://${endpoint}`;
}
