// What the OpenTelemetry operators (otel-metrics, otel-logs) share: ig's resource, named exporter sections of the
// configuration file, OTLP endpoint URLs and the routing of the SDK's diagnostics into ig's log.
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { activeConfig } from '../config/config.js';
import { parseDuration } from '../gadget/params.js';

export class ExporterError extends Error {}

export function igResource(): ReturnType<typeof resourceFromAttributes> {
  return resourceFromAttributes({ 'service.name': 'inspektor-gadget' });
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

let routed = false;

/**
 * OpenTelemetry's own diagnostics (failed exports after the exporters' retries with back-off) go to ig's log, at
 * most once per `everyMs` per message kind, so an unreachable collector is reported without flooding stderr.
 * Process-wide (the SDK has one diag logger); the first caller's log wins.
 */
export function routeDiagnostics(warn: (msg: string) => void, debug: (msg: string) => void, everyMs = 10000): void {
  if (routed) return;
  routed = true;
  const last = new Map<string, number>();
  const limited = (msg: string) => {
    const kind = msg.slice(0, 60);
    const now = Date.now();
    if ((last.get(kind) ?? -Infinity) + everyMs > now) return;
    last.set(kind, now);
    warn(msg);
  };
  // The SDK hands errors (or their JSON-able copies, stack included) as arguments: keep their message only.
  const one = (a: unknown): string => {
    if (typeof a === 'string') {
      // The SDK's global error handler passes an error serialised as JSON.
      if (a.startsWith('{"')) { try { return one(JSON.parse(a)); } catch { return a; } }
      return a;
    }
    if (a && typeof a === 'object' && typeof (a as { message?: unknown }).message === 'string') return (a as { message: string }).message;
    try { return JSON.stringify(a); } catch { return String(a); }
  };
  const text = (m: unknown, args: unknown[]) => [m, ...args].map(one).join(' ').replace(/Resolution note:\s*/g, '').replace(/\s+/g, ' ').trim();
  const logger: DiagLogger = {
    error: (m, ...a) => limited(`otel: ${text(m, a)} (retried with back-off; next export in the next interval)`),
    warn: (m, ...a) => limited(`otel: ${text(m, a)}`),
    info: (m, ...a) => debug(`otel: ${text(m, a)}`),
    debug: () => undefined,
    verbose: () => undefined,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
}
