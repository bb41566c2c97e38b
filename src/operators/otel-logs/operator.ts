// otel-logs (priority 9999, upstream's semantics): records of the data sources selected with
// --otel-logs-exporter (NAME for all, or ds:NAME,...) become OpenTelemetry log records pushed over OTLP/gRPC by the
// named exporter operator.otel-logs.exporters.<NAME> {exporter: otlp-grpc, endpoint, insecure, compression}.
//   - attributes: the fields annotated `logs.name` (under that name), or, when none is, every value field under
//     its full name; `logs.name: body` makes a field the body, `logs.name: severity` its severity number,
//     `logs.name: timestamp` its observed time (µs, as upstream);
//   - the data source annotation `logs.severity` sets one severity number for every record; the logger (scope)
//     name is `logs.name` on the data source, else the image name.
// Records queue in the SDK's batch processor (bounded: when the collector is slow or away, the oldest wait and
// the newest are dropped, never the pipeline); failed exports are retried with back-off and reported.
import type { AnyValue, AnyValueMap, Logger, LogRecord } from '@opentelemetry/api-logs';
import type { LoggerProvider } from '@opentelemetry/sdk-logs';
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { FieldFlag, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import { ExporterError, otlpExporterConfig, otlpUrl } from '../../otel/config.js';
import { parseNameMappings } from '../perds.js';
import { trustedCasPem } from '../../tls/extra-ca.js';

const P = 'operator.otel-logs.';
const SECTION = 'operator.otel-logs.exporters';

interface LogsExporterConfig { endpoint: string; insecure: boolean; compression: 'none' | 'gzip' }

export function logsExporterConfig(name: string): LogsExporterConfig {
  const { where, raw, endpoint, insecure } = otlpExporterConfig(SECTION, '--otel-logs-exporter', name);
  const compression = String(raw.compression ?? 'none') || 'none';
  if (compression !== 'none' && compression !== 'gzip') throw new ExporterError(`${where}.compression: "${compression}" is not none or gzip`);
  return { endpoint, insecure, compression };
}

const providers = new Map<string, LoggerProvider>();

async function loggerProvider(name: string, cfg: LogsExporterConfig): Promise<LoggerProvider> {
  const have = providers.get(name);
  if (have) return have;
  // Loaded only when logs are exported: gRPC and protobuf code is not needed otherwise.
  const [{ LoggerProvider: Provider, BatchLogRecordProcessor }, { OTLPLogExporter }, grpc, { igResource }] = await Promise.all([
    import('@opentelemetry/sdk-logs'), import('@opentelemetry/exporter-logs-otlp-grpc'), import('@grpc/grpc-js'), import('../../otel/common.js')]);
  const exporter = new OTLPLogExporter({
    url: otlpUrl(cfg.endpoint, cfg.insecure),
    // trustedCasPem: the NODE_EXTRA_CA_CERTS CAs bin/ig kept from node's start (src/tls/extra-ca.ts)
    credentials: cfg.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(trustedCasPem()),
    ...(cfg.compression === 'gzip' ? { compression: 'gzip' as never } : {}),
    timeoutMillis: 5000,
  });
  // 1 s batches of up to 512 records; 65,536 queued at most (then new records are dropped, not waited for).
  const processor = new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 1000, maxExportBatchSize: 512, maxQueueSize: 65536, exportTimeoutMillis: 5000 });
  const p = new Provider({ resource: igResource(), processors: [processor] });
  providers.set(name, p);
  return p;
}

type AttrReader = (b: Batch, i: number) => AnyValue;

function valueReader(f: Field): AttrReader {
  return (b, i) => {
    const v = f.get(b, i);
    if (typeof v === 'bigint') return Number(v);
    if (Buffer.isBuffer(v)) return new Uint8Array(v);
    if (Array.isArray(v)) return (v as (number | bigint)[]).map((x) => Number(x));
    return v ?? null;
  };
}

/** Fields that carry a value of their own (no groups, no whole-struct blobs, nothing removed). */
function valueFields(ds: DataSource): Field[] {
  const parents = new Set(ds.fields.map((f) => f.parent).filter(Boolean));
  return ds.fields.filter((f) => !f.isEmpty && !f.unreferenced && !(f.flags & FieldFlag.Container) && !parents.has(f));
}

/** How one data source's records become log records. */
export class LogMapping {
  private readonly attrs: [string, AttrReader][] = [];
  private body?: (b: Batch, i: number) => string;
  private severity?: (b: Batch, i: number) => number;
  private observed?: (b: Batch, i: number) => number;
  private readonly fixedSeverity?: number;

  constructor(readonly ds: DataSource) {
    const sev = ds.annotations.get('logs.severity');
    if (sev !== undefined) {
      const n = Number(sev);
      if (sev.trim() === '' || !Number.isFinite(n)) throw new ExporterError(`data source ${ds.name}: invalid logs.severity "${sev}" (expected a severity number, e.g. 9 for INFO)`);
      this.fixedSeverity = n;
    }
    const fields = valueFields(ds);
    let named = 0;
    for (const f of fields) {
      const name = f.annotation('logs.name');
      if (name === undefined) continue;
      named++;
      if (name === 'body') { this.body = (b, i) => String(f.get(b, i) ?? ''); continue; }
      if (name === 'severity' || name === 'timestamp') {
        const num = (b: Batch, i: number) => Number(f.get(b, i) ?? 0);
        if (name === 'severity') this.severity = num; else this.observed = num;
        continue;
      }
      this.attrs.push([name || f.fullName, valueReader(f)]);
    }
    if (named === 0) for (const f of fields) this.attrs.push([f.fullName, valueReader(f)]);
  }

  /** One log record per live record of the batch. */
  emit(logger: Logger, b: Batch): void {
    const now = Date.now();
    for (let k = 0; k < b.liveCount; k++) {
      const i = b.live[k]!;
      const attributes: AnyValueMap = {};
      for (const [name, read] of this.attrs) attributes[name] = read(b, i);
      const rec: LogRecord = { timestamp: now, attributes, body: this.body ? this.body(b, i) : '' };
      const sev = this.severity ? this.severity(b, i) : this.fixedSeverity;
      if (sev !== undefined) rec.severityNumber = sev;
      if (this.observed) rec.observedTimestamp = this.observed(b, i) / 1000; // µs → ms (upstream's unit)
      logger.emit(rec);
    }
  }
}

export const otelLogsOperator: DataOperator = {
  name: 'otel-logs',
  priority: 9999,
  instantiate(ctx: GadgetContext): OperatorInstance {
    const pushed: LoggerProvider[] = [];
    return {
      name: 'otel-logs',
      params: () => [{ key: 'otel-logs-exporter', prefix: P, defaultValue: '', description: 'Export records as OpenTelemetry logs with this named exporter from the config file (operator.otel-logs.exporters.<name>); ds:name,... per data source' }],
      async preStart() {
        const v = ctx.params.get(`${P}otel-logs-exporter`) ?? '';
        if (v === '') return;
        const mappings = parseNameMappings(v, '--otel-logs-exporter');
        const sources = [...ctx.dataSources.values()].filter((ds) => ds.referenced);
        for (const n of mappings.keys()) {
          if (n !== '' && !ctx.dataSources.has(n)) throw new ExporterError(`--otel-logs-exporter ${n}:${mappings.get(n)}: the gadget has no data source "${n}"`);
        }
        // Validate every selected exporter and data source before connecting anything.
        const plan: { ds: DataSource; exporter: string; cfg: LogsExporterConfig; mapping: LogMapping }[] = [];
        for (const ds of sources) {
          const exporter = mappings.get(ds.name) ?? mappings.get('');
          if (!exporter) continue;
          plan.push({ ds, exporter, cfg: logsExporterConfig(exporter), mapping: new LogMapping(ds) });
        }
        if (plan.length === 0) return;
        // Loaded only when logs are exported (the SDK costs ~10 MiB and start-up time in every other run).
        const { routeDiagnostics } = await import('../../otel/common.js');
        routeDiagnostics((m) => ctx.log.warn(m), (m) => ctx.log.debug(m));
        for (const p of plan) {
          const provider = await loggerProvider(p.exporter, p.cfg);
          if (!pushed.includes(provider)) pushed.push(provider);
          const logger = provider.getLogger(p.ds.annotations.get('logs.name') || ctx.image.reference);
          p.ds.subscribe((b) => p.mapping.emit(logger, b), 9999);
          ctx.log.debug(`logs: ${p.ds.name} to ${p.cfg.endpoint} (${p.exporter})`);
        }
      },
      // Push what is queued before ig exits, bounded so an unreachable collector cannot hold the exit.
      async postStop() {
        for (const p of pushed) {
          await Promise.race([p.forceFlush().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
        }
      },
    };
  },
};

/** Shut every logs exporter down (tests running several runs in one process). */
export async function closeLogExporters(): Promise<void> {
  for (const p of providers.values()) await Promise.race([p.shutdown().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  providers.clear();
}
