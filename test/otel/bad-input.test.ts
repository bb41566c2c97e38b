// Bad metrics and exporter input: one clear line on stderr, exit code 1, no program of the gadget left loaded.
// trace_mount is used because other test runs on this machine rarely load it (leak checks compare program ids).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIgSync } from '../harness/ig.js';
import { bpfProgIds, leakedPrograms } from '../harness/activity.js';

const PROGS = ['ig_mount_e', 'ig_mount_x', 'ig_umount_e', 'ig_umount_x'];
const home = mkdtempSync(join(tmpdir(), 'ig-export-bad-'));
test.after(() => rmSync(home, { recursive: true, force: true }));
const COLLECT = ['--annotate', 'mount:metrics.collect=true,mount:metrics.implicit-counter.name=mounts'];

async function failsInOneLine(args: string[], re: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const before = bpfProgIds(PROGS);
  const r = runIgSync(['run', 'trace_mount', '--host', '-t', '3', ...args], { env: { HOME: home, ...env } });
  assert.equal(r.code, 1, `exit code for ${args.join(' ')}; stderr: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr.trim(), re);
  assert.deepEqual(await leakedPrograms(PROGS, before), [], 'no program left loaded');
}

test('metrics.collect without --otel-metrics-name', async () => {
  await failsInOneLine(['--otel-metrics-listen', '--otel-metrics-listen-address', '127.0.0.1:0', ...COLLECT],
    /^Error: data source mount has metrics.collect=true: exporting it needs --otel-metrics-name mount:NAME$/);
});

test('a non-numeric field annotated as counter', async () => {
  await failsInOneLine(['--otel-metrics-listen', '--otel-metrics-listen-address', '127.0.0.1:0', ...COLLECT, '--annotate', 'mount.src:metrics.type=counter', '--otel-metrics-name', 'mount:m'],
    /^Error: data source mount: field src \(string\): metrics.type=counter needs a numeric field$/);
});

test('a listen port in use, and a malformed address', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    await failsInOneLine(['--otel-metrics-listen', '--otel-metrics-listen-address', `127.0.0.1:${port}`, ...COLLECT, '--otel-metrics-name', 'mount:m'],
      new RegExp(`^Error: --otel-metrics-listen-address 127.0.0.1:${port}: address already in use$`));
  } finally {
    srv.close();
  }
  await failsInOneLine(['--otel-metrics-listen', '--otel-metrics-listen-address', 'localhost'], /^Error: invalid value "localhost" for --otel-metrics-listen-address: expected host:port/);
});

test('an unknown exporter name, an exporter without endpoint, --otel-metrics-name for a data source that does not collect', async () => {
  await failsInOneLine(['--otel-metrics-exporter', 'nope', ...COLLECT, '--otel-metrics-name', 'mount:m'],
    /^Error: unknown metrics exporter "nope" for --otel-metrics-exporter: none configured \(add operator.otel-metrics.exporters.nope to the config file\)$/);
  const cfg = join(home, 'cfg.yaml');
  writeFileSync(cfg, 'operator:\n  otel-metrics:\n    exporters:\n      a:\n        exporter: otlp-grpc\n      b:\n        exporter: zipkin\n        endpoint: x:1\n');
  await failsInOneLine(['--config', cfg, '--otel-metrics-exporter', 'nope', ...COLLECT, '--otel-metrics-name', 'mount:m'], /^Error: unknown metrics exporter "nope" for --otel-metrics-exporter: configured: a, b$/);
  await failsInOneLine(['--config', cfg, '--otel-metrics-exporter', 'a', ...COLLECT, '--otel-metrics-name', 'mount:m'], /^Error: operator.otel-metrics.exporters.a.endpoint: required for the otlp-grpc exporter/);
  await failsInOneLine(['--config', cfg, '--otel-metrics-exporter', 'b', ...COLLECT, '--otel-metrics-name', 'mount:m'], /^Error: operator.otel-metrics.exporters.b.exporter: unsupported exporter "zipkin"/);
  await failsInOneLine(['--otel-metrics-listen', '--otel-metrics-listen-address', '127.0.0.1:0', '--otel-metrics-name', 'mount:m'],
    /^Error: --otel-metrics-name mount:m: data source mount is not annotated metrics.collect=true \(add --annotate mount:metrics.collect=true\)$/);
});

test('otel-logs: an unknown exporter, a bad compression, an unknown data source', async () => {
  await failsInOneLine(['--otel-logs-exporter', 'nope'], /^Error: unknown logs exporter "nope" for --otel-logs-exporter: none configured \(add operator.otel-logs.exporters.nope to the config file\)$/);
  const cfg = join(home, 'logs.yaml');
  writeFileSync(cfg, 'operator.otel-logs.exporters.z:\n  exporter: otlp-grpc\n  endpoint: 127.0.0.1:1\n  compression: lz4\n');
  await failsInOneLine(['--config', cfg, '--otel-logs-exporter', 'z'], /^Error: operator.otel-logs.exporters.z.compression: "lz4" is not none or gzip$/);
  await failsInOneLine(['--config', cfg, '--otel-logs-exporter', 'mnt:z'], /^Error: --otel-logs-exporter mnt:z: the gadget has no data source "mnt"$/);
});

