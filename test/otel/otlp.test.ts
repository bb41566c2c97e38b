// OTLP push through named exporters of the config file, received by the FAKE OTLP collector (test/fakes): metrics
// (cumulative and delta), logs (fields as attributes), and a collector that is away at first: ig keeps tracing,
// reports the failed exports, and delivers once the collector is up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { freePort } from '../harness/prometheus.js';
import { FakeOtlpReceiver, anyValue, attrs } from '../fakes/otlp-receiver.fake.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-export-otlp-'));
const COMM = 'igexpotlp';
const sh = join(dir, COMM);
copyFileSync('/bin/bash', sh);
test.after(() => rmSync(dir, { recursive: true, force: true }));

function opens(n: number, file = '/etc/hostname'): void {
  spawnSync(sh, ['-c', `for i in $(seq 1 ${n}); do : < ${file}; done`], { stdio: 'ignore' });
}

function config(endpoint: string, extra = ''): string {
  const p = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, `operator:
  otel-metrics:
    exporters:
      collector:
        exporter: otlp-grpc
        endpoint: ${endpoint}
        insecure: true
        interval: 1s
${extra}
  otel-logs:
    exporters:
      collector:
        exporter: otlp-grpc
        endpoint: ${endpoint}
        insecure: true
`);
  return p;
}

async function until<T>(what: string, f: () => T | undefined, ig: IgProcess, poke: () => void, timeoutMs = 25000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && ig.child.exitCode === null) {
    poke();
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what}: not received; ig stderr: ${ig.stderr}`);
}

const METRICS = ['--annotate', 'open:metrics.collect=true,open:metrics.implicit-counter.name=opens,open.proc.comm:metrics.type=key',
  '--otel-metrics-name', 'open:openmetrics', '--otel-metrics-exporter', 'collector', '-o', 'none'];

function opensPoint(rx: FakeOtlpReceiver): { value: number; temporality: string; monotonic: boolean } | undefined {
  for (const { scope, metric } of rx.allMetrics().reverse()) {
    if (scope !== 'openmetrics' || metric.name !== 'opens' || !metric.sum) continue;
    const p = metric.sum.dataPoints.find((d) => attrs(d.attributes)['proc.comm'] === COMM);
    if (p) return { value: Number(p.asInt ?? p.asDouble), temporality: metric.sum.aggregationTemporality, monotonic: metric.sum.isMonotonic };
  }
  return undefined;
}

test('metrics pushed over OTLP/gRPC: cumulative by default, delta when configured', async () => {
  const rx = new FakeOtlpReceiver();
  await rx.start();
  try {
    const ig = new IgProcess(['--config', config(rx.endpoint), 'run', 'trace_open', '--host', ...METRICS]);
    try {
      const p = await until('cumulative opens', () => { const x = opensPoint(rx); return x && x.value >= 20 ? x : undefined; }, ig, () => opens(5));
      assert.equal(p.temporality, 'AGGREGATION_TEMPORALITY_CUMULATIVE');
      assert.equal(p.monotonic, true);
      const res = rx.metrics.at(-1)!.resourceMetrics[0]!.resource!;
      assert.equal(attrs(res.attributes)['service.name'], 'inspektor-gadget');
    } finally {
      const r = await ig.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    rx.metrics.length = 0;
    const delta = new IgProcess(['--config', config(rx.endpoint, '        temporality: delta'), 'run', 'trace_open', '--host', ...METRICS]);
    try {
      const p = await until('delta opens', () => opensPoint(rx), delta, () => opens(5));
      assert.equal(p.temporality, 'AGGREGATION_TEMPORALITY_DELTA');
    } finally {
      const r = await delta.stop();
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    await rx.stop();
  }
});

test('otel-logs: each record a log record with the fields as attributes', async () => {
  const rx = new FakeOtlpReceiver();
  await rx.start();
  const probe = join(dir, 'logprobe');
  writeFileSync(probe, 'x');
  const ig = new IgProcess(['--config', config(rx.endpoint), 'run', 'trace_open', '--host', '--comm', COMM, '--otel-logs-exporter', 'collector', '-o', 'none']);
  try {
    const rec = await until('a log record of our open', () => rx.allLogs().find((l) => attrs(l.record.attributes).fname === probe), ig, () => opens(1, probe));
    const a = attrs(rec.record.attributes);
    assert.equal(a['proc.comm'], COMM);
    assert.equal(typeof a['proc.pid'], 'number');
    assert.equal(a.error, '');
    assert.ok(Number(rec.record.timeUnixNano) > 0);
    assert.equal(anyValue(rec.record.body), '');
    assert.equal(rec.scope, 'ghcr.io/inspektor-gadget/gadget/trace_open:latest');
  } finally {
    const r = await ig.stop();
    await rx.stop();
    assert.equal(r.code, 0, r.stderr);
  }
});

test('an unreachable collector: tracing goes on, failures are reported, exports resume once it is up', async () => {
  const port = await freePort();
  const probe = join(dir, 'away');
  writeFileSync(probe, 'x');
  const ig = new IgProcess(['--config', config(`127.0.0.1:${port}`), 'run', 'trace_open', '--host', '--comm', COMM, '-o', 'json',
    '--annotate', 'open:metrics.collect=true,open:metrics.implicit-counter.name=opens,open.proc.comm:metrics.type=key',
    '--otel-metrics-name', 'open:openmetrics', '--otel-metrics-exporter', 'collector', '--otel-logs-exporter', 'collector']);
  const rx = new FakeOtlpReceiver();
  try {
    // Events keep flowing to the output while nothing can be exported.
    await ig.waitFor((e: { fname?: string }) => e.fname === probe, () => opens(1, probe));
    await until('a reported export failure', () => (/WARN: otel: .*(UNAVAILABLE|ECONNREFUSED|No connection)/i.test(ig.stderr) ? true : undefined), ig, () => opens(1, probe));
    const before = ig.events().length;
    opens(10, probe);
    await until('more events while the collector is away', () => (ig.events().length >= before + 10 ? true : undefined), ig, () => undefined);
    await rx.start(port);
    await until('metrics after the collector came up', () => opensPoint(rx), ig, () => opens(1, probe), 40000);
  } finally {
    const t0 = Date.now();
    const r = await ig.stop();
    await rx.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 10000, `stopping took ${Date.now() - t0} ms`);
  }
});
