// The otel-metrics operator's Prometheus endpoint scraped by a real Prometheus (Debian's 2.42) on loopback, checked
// through PromQL over its HTTP API: the trace_open implicit counter per command and profile_blockio's
// log2 histogram, plus promtool's lint of the exposition and ig's internal metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { Prometheus, freePort } from '../harness/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-export-otel-'));
const COMM = 'igexpprom';
const sh = join(dir, COMM);
copyFileSync('/bin/bash', sh);
test.after(() => rmSync(dir, { recursive: true, force: true }));

function opens(n: number): void {
  spawnSync(sh, ['-c', `for i in $(seq 1 ${n}); do : < /etc/hostname; done`], { stdio: 'ignore' });
}

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ig: IgProcess, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ig.child.exitCode !== null) break;
    try { const v = await f(); if (v !== undefined) return v; } catch { /* endpoint not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not seen; ig stderr: ${ig.stderr}`);
}

function counterOf(text: string, comm: string): number | undefined {
  const m = new RegExp(`^opens_total\\{proc_comm="${comm}",otel_scope_name="openmetrics"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

test('trace_open: implicit counter of opens per proc.comm, scraped by a real Prometheus (the issue\'s command)', async () => {
  const port = await freePort();
  const ig = new IgProcess(['run', 'trace_open', '--host', '--otel-metrics-listen', '--otel-metrics-listen-address', `127.0.0.1:${port}`,
    '--annotate', 'open:metrics.collect=true', '--annotate', 'open:metrics.implicit-counter.name=opens',
    '--annotate', 'open.proc.comm:metrics.type=key', '--otel-metrics-name', 'open:openmetrics', '-o', 'none']);
  const prom = new Prometheus([`127.0.0.1:${port}`]);
  try {
    await prom.start();
    await until('our command in /metrics', async () => { opens(1); return counterOf(await scrape(port), COMM); }, ig);
    // A settled count: the events still in flight have arrived when two reads 600 ms apart agree.
    const settled = async (): Promise<number> => {
      let prev = -1;
      return until('a settled count', async () => {
        const v = counterOf(await scrape(port), COMM)!;
        if (v === prev) return v;
        prev = v;
        await new Promise((r) => setTimeout(r, 600));
        return undefined;
      }, ig);
    };
    // One bash process opens its libraries and locale files (k opens) before it runs the loop: measure k with an
    // empty loop, then every one of 200 redirects must be counted exactly.
    const v0 = await settled();
    opens(0);
    const k = (await settled()) - v0;
    const v1 = v0 + k;
    opens(200);
    const v2 = await until('the 200 opens', async () => { const v = counterOf(await scrape(port), COMM); return v !== undefined && v >= v1 + 200 + k ? v : undefined; }, ig);
    assert.equal(v2 - v1, 200 + k, `opens counted for 200 redirects (+${k} at start)`);
    const text = await scrape(port);
    assert.match(text, /^# TYPE opens_total counter$/m);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // 0: clean; 3: lint warnings only (e.g. HELP texts). 1 would be a parse error.
    assert.ok(lint.status === 0 || lint.status === 3, `promtool: ${lint.status} ${lint.stdout}${lint.stderr}`);
    const res = await prom.waitFor(`opens_total{proc_comm="${COMM}"}`, (r) => r.length === 1 && Number(r[0]!.value[1]) >= v2);
    assert.equal(res[0]!.metric.otel_scope_name, 'openmetrics');
    assert.equal(res[0]!.metric.job, 'ig');
    const byComm = await prom.query('sum by (proc_comm) (opens_total)');
    assert.ok(byComm.length >= 2, 'one series per command');
    assert.equal(ig.stdout, '', '-o none prints nothing');
  } finally {
    await prom.stop();
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
  }
});

test('profile_blockio: the log2 histogram as a Prometheus histogram (le = 1, 2, 4, ...), with ig\'s internal metrics', async () => {
  const port = await freePort();
  const ig = new IgProcess(['run', 'profile_blockio', '--otel-metrics-listen', '--otel-metrics-listen-address', `127.0.0.1:${port}`,
    '--annotate', 'blockio:metrics.collect=true', '--otel-metrics-name', 'blockio:blockio', '--otel-metrics-export-internals', '--map-fetch-interval', '500ms']);
  const prom = new Prometheus([`127.0.0.1:${port}`]);
  const io = () => spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'io')}`, 'bs=4k', 'count=64', 'oflag=direct'], { stdio: 'ignore' });
  try {
    await prom.start();
    await until('latency histogram', async () => { io(); return /^latency_count\{.*otel_scope_name="blockio"\} [1-9]/m.test(await scrape(port)) ? true : undefined; }, ig);
    const text = await scrape(port);
    assert.match(text, /^# TYPE latency histogram$/m);
    assert.match(text, /^# UNIT latency µs$/m);
    const les = [...text.matchAll(/^latency_bucket\{cmd_flags="0",dev="0",otel_scope_name="blockio",le="([^"]+)"\}/gm)].map((m) => m[1]);
    assert.equal(les[0], '1');
    assert.equal(les[les.length - 1], '+Inf');
    for (let i = 0; i < les.length - 1; i++) assert.equal(les[i], String(2 ** i), 'log2 boundaries');
    assert.match(text, /^ig_gadgets_running\{otel_scope_name="inspektor-gadget"\} 1$/m);
    assert.match(text, /^ig_events_total\{gadget="profile blockio",datasource="blockio",otel_scope_name="inspektor-gadget"\} [1-9]/m);
    const r = await prom.waitFor('sum(latency_count{otel_scope_name="blockio"})', (x) => x.length === 1 && Number(x[0]!.value[1]) > 0, 30000, io);
    assert.ok(Number(r[0]!.value[1]) > 0);
    const q = await prom.waitFor('histogram_quantile(0.5, sum by (le) (latency_bucket))', (x) => x.length === 1 && Number.isFinite(Number(x[0]!.value[1])));
    assert.ok(Number(q[0]!.value[1]) > 0, 'a median latency from the buckets');
  } finally {
    await prom.stop();
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /latency/, 'metrics.print still renders the histogram at the end');
  }
});

test('top_file (a map iterator): per-interval writes add up in a counter per command, without Prometheus in between', async () => {
  const port = await freePort();
  const file = join(dir, 'written');
  const ig = new IgProcess(['run', 'top_file', '--host', '--otel-metrics-listen', '--otel-metrics-listen-address', `127.0.0.1:${port}`,
    '--annotate', 'file:metrics.collect=true,file.proc.comm:metrics.type=key,file.writes:metrics.type=counter,file.wbytes_raw:metrics.type=counter',
    '--otel-metrics-name', 'file:files', '--map-fetch-interval', '300ms', '-o', 'none']);
  const writes = (n: number) => spawnSync(sh, ['-c', `exec 3>>${file}; for i in $(seq 1 ${n}); do echo x >&3; done`], { stdio: 'ignore' });
  const value = (text: string, name: string) => {
    const m = new RegExp(`^${name}\\{proc_comm="${COMM}",otel_scope_name="files"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  try {
    await until('our writes', async () => { writes(1); return value(await scrape(port), 'writes_total'); }, ig);
    let w0 = -1;
    await until('settled', async () => { const v = value(await scrape(port), 'writes_total')!; if (v === w0) return v; w0 = v; await new Promise((r) => setTimeout(r, 800)); return undefined; }, ig);
    writes(300);
    // Spread over several fetches: every interval's count is added once.
    const w1 = await until('300 more writes', async () => { const v = value(await scrape(port), 'writes_total')!; return v >= w0 + 300 ? v : undefined; }, ig);
    await new Promise((r) => setTimeout(r, 1000));
    const text = await scrape(port);
    assert.equal(value(text, 'writes_total'), w1, 'no more writes counted once the writer is done');
    assert.equal(w1 - w0, 300);
    assert.ok(value(text, 'wbytes_raw_total')! >= 600, 'bytes written ("x\\n" each)');
  } finally {
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
  }
});
