// A run that exports no metrics or logs must not load OpenTelemetry: the SDK adds ~10 MiB of resident memory and
// start-up time to every `ig run` (docs/benchmarks.md). The CLI runs under a module resolve hook that
// records every module it resolves; a run with --otel-metrics-listen is the control proving the hook sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IG_MAIN, IG_MAIN_MODULES } from '../harness/ig.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-lazyotel-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// Hooks run on Node's loader thread; they append each resolved URL to the file named by the environment. The
// bundle bin/ig runs is CommonJS (src/launcher/): its require()s are logged by a second hook on node's CJS resolver.
writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.IG_TEST_MODULE_LOG, r.url + '\\n');
  return r;
}
`);
writeFileSync(join(dir, 'require-hook.cjs'), `const Module = require('node:module');
const { appendFileSync } = require('node:fs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const r = resolve.apply(this, args);
  appendFileSync(process.env.IG_TEST_MODULE_LOG, r + '\\n');
  return r;
};
`);
writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
`);

let n = 0;
/** Run ig under the hook; the module URLs it resolved. */
function resolvedModules(args: string[], main = IG_MAIN_MODULES): { code: number | null; stderr: string; modules: string[] } {
  const log = join(dir, `modules-${n++}.txt`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, '--require', join(dir, 'require-hook.cjs'), main, ...args], {
    encoding: 'utf8', timeout: 60000, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, HOME: dir, IG_TEST_MODULE_LOG: log },
  });
  return { code: r.status, stderr: r.stderr, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const otel = (mods: string[]) => [...new Set(mods.filter((m) => m.includes('@opentelemetry')).map((m) => /@opentelemetry\/[^/]+/.exec(m)![0]))];

test('ig run trace_open without --otel-* flags loads no @opentelemetry module', () => {
  const r = resolvedModules(['run', 'trace_open', '--host', '-o', 'json', '-t', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.modules.some((m) => m.endsWith('/operators/otel-metrics/operator.js')), 'the otel-metrics operator is part of the run');
  assert.ok(r.modules.some((m) => m.endsWith('/operators/otel-logs/operator.js')), 'the otel-logs operator is part of the run');
  assert.deepEqual(otel(r.modules), []);
  // the bundle bin/ig runs keeps the SDK out too (packages stay external, loaded where our code imports them)
  const b = resolvedModules(['run', 'trace_open', '--host', '-o', 'json', '-t', '1'], IG_MAIN);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(otel(b.modules), []);
});

test('control: the bundle loads the SDK when the run exports', () => {
  const r = resolvedModules(['run', 'trace_open', '--host', '-o', 'json', '-t', '1', '--otel-metrics-listen', '--otel-metrics-listen-address', '127.0.0.1:0'], IG_MAIN);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(otel(r.modules).includes('@opentelemetry/sdk-metrics'));
});

test('bad --otel-metrics-listen-address is still refused in one line, without loading the SDK', () => {
  const r = resolvedModules(['run', 'trace_open', '--host', '-t', '1', '--otel-metrics-listen', '--otel-metrics-listen-address', 'localhost']);
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^Error: invalid value "localhost" for --otel-metrics-listen-address: expected host:port/);
  assert.deepEqual(otel(r.modules), []);
});

test('control: --otel-metrics-listen loads the metrics SDK and the Prometheus exporter', () => {
  const r = resolvedModules(['run', 'trace_open', '--host', '-o', 'json', '-t', '1', '--otel-metrics-listen', '--otel-metrics-listen-address', '127.0.0.1:0']);
  assert.equal(r.code, 0, r.stderr);
  const loaded = otel(r.modules);
  assert.ok(loaded.includes('@opentelemetry/sdk-metrics'), `loaded: ${loaded.join(', ')}`);
  assert.ok(loaded.includes('@opentelemetry/exporter-prometheus'), `loaded: ${loaded.join(', ')}`);
});
