// FAKE OTLP collector (no OpenTelemetry collector can run here): a gRPC server on a free loopback port that
// implements OTLP's MetricsService/Export and LogsService/Export from a subset of the official protobuf
// definitions (test/fakes/otlp-proto) and keeps every decoded request, so tests can check what ig pushed.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../harness/ig.js';

export interface KeyValue { key: string; value: AnyValue }
export interface AnyValue { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number; bytesValue?: Buffer; arrayValue?: { values: AnyValue[] }; value?: string }
export interface NumberDataPoint { attributes: KeyValue[]; asInt?: string; asDouble?: number; value?: string }
export interface HistogramDataPoint { attributes: KeyValue[]; count: string; bucketCounts: string[]; explicitBounds: number[] }
export interface Metric { name: string; description: string; unit: string; sum?: { dataPoints: NumberDataPoint[]; aggregationTemporality: string; isMonotonic: boolean }; gauge?: { dataPoints: NumberDataPoint[] }; histogram?: { dataPoints: HistogramDataPoint[]; aggregationTemporality: string } }
export interface MetricsRequest { resourceMetrics: { resource?: { attributes: KeyValue[] }; scopeMetrics: { scope?: { name: string }; metrics: Metric[] }[] }[] }
export interface LogRecord { timeUnixNano: string; observedTimeUnixNano: string; severityNumber: number; body?: AnyValue; attributes: KeyValue[] }
export interface LogsRequest { resourceLogs: { resource?: { attributes: KeyValue[] }; scopeLogs: { scope?: { name: string }; logRecords: LogRecord[] }[] }[] }

const PROTO_DIR = join(repoRoot(), 'test', 'fakes', 'otlp-proto');

/** The plain JS value of an OTLP AnyValue. */
export function anyValue(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue) return v.arrayValue.values.map(anyValue);
  return undefined;
}

export function attrs(kvs: KeyValue[]): Record<string, unknown> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, anyValue(kv.value)]));
}

export class FakeOtlpReceiver {
  readonly metrics: MetricsRequest[] = [];
  readonly logs: LogsRequest[] = [];
  private server?: grpc.Server;
  port = 0;

  get endpoint(): string { return `127.0.0.1:${this.port}`; }

  async start(port = 0): Promise<void> {
    const opts = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };
    const m = grpc.loadPackageDefinition(await protoLoader.load(['metrics_service.proto', 'logs_service.proto'], opts)) as unknown as {
      opentelemetry: { proto: { collector: { metrics: { v1: { MetricsService: grpc.ServiceClientConstructor } }; logs: { v1: { LogsService: grpc.ServiceClientConstructor } } } } };
    };
    const server = new grpc.Server();
    server.addService(m.opentelemetry.proto.collector.metrics.v1.MetricsService.service, {
      Export: (call: grpc.ServerUnaryCall<MetricsRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => { this.metrics.push(call.request); cb(null, {}); },
    });
    server.addService(m.opentelemetry.proto.collector.logs.v1.LogsService.service, {
      Export: (call: grpc.ServerUnaryCall<LogsRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => { this.logs.push(call.request); cb(null, {}); },
    });
    this.port = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    this.server = server;
  }

  /** Every metric received, with its scope name. */
  allMetrics(): { scope: string; metric: Metric }[] {
    return this.metrics.flatMap((r) => r.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((metric) => ({ scope: sm.scope?.name ?? '', metric })))));
  }

  /** Every log record received, with its scope (logger) name. */
  allLogs(): { scope: string; record: LogRecord }[] {
    return this.logs.flatMap((r) => r.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((record) => ({ scope: sl.scope?.name ?? '', record })))));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.tryShutdown(() => r()));
  }
}
