// What the OpenTelemetry operators (otel-metrics, otel-logs) share that needs the SDK: ig's resource and the
// routing of the SDK's diagnostics into ig's log. Loaded only by runs that export (see config.ts for the rest).
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';

export { configDuration, configuredExporters, ExporterError, otlpExporterConfig, otlpUrl } from './config.js';

export function igResource(): ReturnType<typeof resourceFromAttributes> {
  return resourceFromAttributes({ 'service.name': 'inspektor-gadget' });
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
