// The metrics command counts on the reader thread (native aggregation, src/bpf/metrics-aggregator.ts): a
// storm of opens by one command is counted exactly, and the run says it took that path; a run where another
// operator needs the records in JS (--filter) takes the JS path and counts the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { freePort } from '../harness/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-native-agg-'));
const COMM = 'igaggstorm';
const sh = join(dir, COMM);
copyFileSync('/bin/bash', sh);
test.after(() => rmSync(dir, { recursive: true, force: true }));

const opens = (n: number) => spawnSync(sh, ['-c', `for ((i = 0; i < ${n}; i++)); do : < /etc/hostname; done`], { stdio: 'ignore' });

async function counter(port: number): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^opens_total\\{proc_comm="${COMM}",otel_scope_name="openmetrics"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ig: IgProcess, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ig.child.exitCode !== null) break;
    try { const v = await f(); if (v !== undefined) return v; } catch { /* endpoint not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not seen; ig stderr: ${ig.stderr}`);
}

/** The counter once two reads 600 ms apart agree (events in flight have arrived). */
async function settled(port: number, ig: IgProcess): Promise<number> {
  let prev = -1;
  return until('a settled count', async () => {
    const v = (await counter(port)) ?? 0;
    if (v === prev) return v;
    prev = v;
    await new Promise((r) => setTimeout(r, 600));
    return undefined;
  }, ig);
}

async function countStorm(extra: string[]): Promise<{ counted: number; expected: number; stderr: string }> {
  const port = await freePort();
  const ig = new IgProcess(['run', 'trace_open', '--host', '--otel-metrics-listen', '--otel-metrics-listen-address', `127.0.0.1:${port}`,
    '--annotate', 'open:metrics.collect=true', '--annotate', 'open:metrics.implicit-counter.name=opens',
    '--annotate', 'open.proc.comm:metrics.type=key', '--otel-metrics-name', 'open:openmetrics', '-o', 'none', '-v', ...extra]);
  try {
    await until('our command in /metrics', async () => { opens(1); return counter(port); }, ig);
    // bash opens its libraries and locale files (k opens) before the loop: measured with an empty loop.
    const v0 = await settled(port, ig);
    opens(0);
    const k = (await settled(port, ig)) - v0;
    const N = 20000;
    opens(N);
    // The storm's bash opens its k files too. On a loaded machine JS may lag for seconds: wait for the full count
    // (or a timeout), then make sure nothing more arrives.
    const want = v0 + k + N + k;
    await until('the storm counted', async () => ((await counter(port)) ?? 0) >= want ? true : undefined, ig, 60000).catch(() => undefined);
    const v2 = await settled(port, ig);
    return { counted: v2 - (v0 + k), expected: N + k, stderr: ig.stderr };
  } finally {
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
  }
}

test('the issue\'s command counts on the reader thread: 20,000 opens of one command, each counted once', async () => {
  const r = await countStorm([]);
  assert.match(r.stderr, /open: records counted per key on the reader thread/);
  assert.equal(r.counted, r.expected, 'every open of the storm counted exactly once');
  assert.doesNotMatch(r.stderr, /lost \d+ events/);
});

test('with --filter (records needed in JS) the same count comes from the JS path', async () => {
  const r = await countStorm(['--filter', `proc.comm==${COMM}`]);
  assert.doesNotMatch(r.stderr, /counted per key on the reader thread/);
  assert.doesNotMatch(r.stderr, /lost \d+ events/);
  assert.equal(r.counted, r.expected);
});
