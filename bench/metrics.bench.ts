// Metrics benchmark (issue 13 item 6): does exporting metrics bring back the slow path?
//
//   node dist/bench/metrics.bench.js [--opens N] [--runs R] [--series S] [--scrapes K] [--json PATH] [--scrape-only]
//
// Part 1, the storm: bench/loadgen.c runs N open() calls (comm igb_storm), runs interleaved:
//   floor-produce  trace_open's programs attached, every event produced into an 8 MiB ring that a native thread
//                  hands back unread (the kernel-side floor, as in bench/trace_open.bench.ts)
//   ig-none        ig run trace_open --host --pid P -o none, no metrics: the JS path's own cost, for comparison
//   ig-metrics     ig run trace_open --host --pid P -o none with the issue's implicit counter of opens keyed by
//                  proc.comm on the Prometheus endpoint, while a real Prometheus (Debian's) scrapes it every second
//                  (counted on the reader thread: native aggregation)
//   ig-metrics-js  the same plus --filter proc.comm!=igb_nomatch, which needs the records in JS: the JS path
//                  (how every metrics run counted before the native aggregation), for comparison
// Per run: the generator's opens/s (ratio to the floor's), ig's CPU over the load window (its CPU clock), CPU µs
// per event, lost events (ig's warnings), and whether the exported counter for igb_storm equals N exactly.
// Part 2, the scrape: S distinct keys (default 10,000) through the same collector and Prometheus endpoint ig uses,
// in this process; K timed GET /metrics (median and max).
// Results: Markdown on stdout, JSON in bench/results/metrics-<date>.json.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, start, stop, stopAll, waitExit, waitLine, waitAttached, type Child } from './lib/child.js';
import { lostInFile } from './lib/count.js';
import { fix, int, markdownTable, median } from './lib/table.js';
import { Prometheus, freePort } from '../test/harness/prometheus.js';
import { DataSource, FieldFlag, Kind } from '../src/datasource/index.js';
import { MetricsExport } from '../src/operators/otel-metrics/collect.js';
import { PrometheusEndpoint } from '../src/operators/otel-metrics/providers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IG_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const FLOOR_JS = join(ROOT, 'dist', 'bench', 'lib', 'floor.js');
const GEN_COMM = 'igb_storm';
const OPEN_TPS = ['sys_enter_openat', 'sys_exit_openat'];

interface Options { opens: number; runs: number; series: number; scrapes: number; json?: string; scrapeOnly: boolean }

function parseArgs(argv: string[]): Options {
  const o: Options = { opens: 300_000, runs: 2, series: 10_000, scrapes: 20, scrapeOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => { const v = Number(argv[++i]); if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`); return v; };
    if (a === '--opens') o.opens = num();
    else if (a === '--runs') o.runs = num();
    else if (a === '--series') o.series = num();
    else if (a === '--scrapes') o.scrapes = num();
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--scrape-only') o.scrapeOnly = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

interface StormResult { setup: 'floor-produce' | 'ig-none' | 'ig-metrics' | 'ig-metrics-js'; run: number; opensPerS: number; cpuS?: number; lost?: number; exported?: number; notes: string[] }

class Storm {
  readonly dir = mkdtempSync(join(tmpdir(), 'ig-export-bench-'));
  readonly loadgen = join(this.dir, 'loadgen');

  constructor(readonly o: Options) {
    execFileSync('gcc', ['-O2', '-Wall', '-o', this.loadgen, join(ROOT, 'bench', 'loadgen.c')], { stdio: 'inherit' });
  }

  cpuClock(pid: number): number {
    try { return Number(execFileSync(this.loadgen, ['cpuclock', String(pid)], { encoding: 'utf8' }).trim()) / 1e9; } catch { return NaN; }
  }

  async run(setup: StormResult['setup'], run: number): Promise<StormResult> {
    const go = join(this.dir, `go-${setup}-${run}`);
    const err = join(this.dir, `${setup}-${run}.err`);
    const notes: string[] = [];
    const gen = start('loadgen', this.loadgen, ['storm', String(this.o.opens), go], { stdout: 'pipe', stderr: 'inherit' });
    let consumer: Child | undefined;
    let prom: Prometheus | undefined;
    let port = 0;
    try {
      await waitLine(gen, /^ready/, 10000);
      const e = openSync(err, 'w');
      if (setup === 'floor-produce') {
        consumer = start(setup, process.execPath, [FLOOR_JS, '--pid', String(gen.pid), '--discard', '--ring-bytes', String(8 << 20), '--linger-us', '4000'], { stdout: 'pipe', stderr: e });
        closeSync(e);
        await waitLine(consumer, /^ready/, 60000);
      } else if (setup === 'ig-none') {
        consumer = start(setup, process.execPath, [IG_MAIN, 'run', 'trace_open', '--host', '--pid', String(gen.pid), '-o', 'none'], { stdout: 'ignore', stderr: e });
        closeSync(e);
        await waitAttached(consumer, OPEN_TPS, 60000);
      } else {
        port = await freePort();
        consumer = start(setup, process.execPath, [IG_MAIN, 'run', 'trace_open', '--host', '--pid', String(gen.pid), '-o', 'none',
          '--otel-metrics-listen', '--otel-metrics-listen-address', `127.0.0.1:${port}`,
          '--annotate', 'open:metrics.collect=true', '--annotate', 'open:metrics.implicit-counter.name=opens',
          '--annotate', 'open.proc.comm:metrics.type=key', '--otel-metrics-name', 'open:openmetrics',
          ...(setup === 'ig-metrics-js' ? ['--filter', 'proc.comm!=igb_nomatch'] : [])], { stdout: 'ignore', stderr: e });
        closeSync(e);
        await waitAttached(consumer, OPEN_TPS, 60000);
        prom = new Prometheus([`127.0.0.1:${port}`], '1s');
        await prom.start();
        // Scrapes under way before the storm: the first one comes ~5 s after Prometheus starts.
        await prom.waitFor('up{job="ig"}', (r) => r.length === 1 && r[0]!.value[1] === '1', 30000);
      }
      await sleep(300);
      const c0 = this.cpuClock(consumer.pid);
      writeFileSync(go, '');
      if (!(await waitExit(gen, 600_000))) throw new Error('load generator did not finish');
      const line = gen.lines.find((l) => l.startsWith('opens='))!;
      const kv = Object.fromEntries(line.split(' ').map((p) => p.split('=') as [string, string]));
      const res: StormResult = { setup, run, opensPerS: Number(kv.opens_per_s), notes };
      if (setup === 'ig-metrics' || setup === 'ig-metrics-js') {
        // Drained when the exported counter reaches N or stops moving for 2 s.
        let last = -1;
        let still = 0;
        for (;;) {
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          const m = new RegExp(`^opens_total\\{proc_comm="${GEN_COMM}",otel_scope_name="openmetrics"\\} (\\d+)`, 'm').exec(text);
          const v = m ? Number(m[1]) : 0;
          if (v >= this.o.opens) { last = v; break; }
          still = v === last ? still + 1 : 0;
          last = v;
          if (still >= 10) break;
          await sleep(200);
        }
        res.exported = last;
        res.cpuS = this.cpuClock(consumer.pid) - c0;
        const q = await prom!.query(`opens_total{proc_comm="${GEN_COMM}"}`);
        if (q.length !== 1) notes.push('Prometheus had no sample of the counter');
      } else if (setup === 'ig-none') {
        // Drained when ig's CPU clock stops moving for 1 s.
        let last = this.cpuClock(consumer.pid);
        for (;;) {
          await sleep(500);
          const c = this.cpuClock(consumer.pid);
          if (c - last < 0.005) break;
          last = c;
        }
        res.cpuS = last - c0;
      }
      await stop(consumer, 'SIGINT', 20000);
      if (setup !== 'floor-produce') res.lost = lostInFile(err);
      else {
        const st = consumer.lines.find((l) => l.startsWith('{'));
        res.lost = st ? (JSON.parse(st) as { lost: number }).lost : undefined;
      }
      const errText = readFileSync(err, 'latin1').split('\n').filter((l) => l.trim() && !/lost \d+ events/.test(l));
      if (errText.length) notes.push(`stderr: ${errText.slice(0, 2).join(' | ').slice(0, 200)}`);
      return res;
    } finally {
      if (!gen.exit) await stop(gen, 'SIGKILL', 5000);
      if (consumer && !consumer.exit) await stop(consumer, 'SIGINT', 20000);
      await prom?.stop();
      rmSync(go, { force: true });
      rmSync(err, { force: true });
    }
  }

  close(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

/** S keys through the collector ig uses, served by ig's Prometheus endpoint; times K scrapes. */
async function scrapeBench(o: Options): Promise<{ series: number; bytes: number; ms: number[]; cpuMs: number[] }> {
  const ds = new DataSource('open', 'single', { annotations: { 'metrics.collect': 'true', 'metrics.implicit-counter.name': 'opens' } });
  ds.staticSize = 16;
  ds.addField({ name: 'fname', kind: Kind.CString, annotations: { 'metrics.type': 'key' }, flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 0, size: 16 } });
  const e = new MetricsExport(ds, 'openmetrics');
  const ep = new PrometheusEndpoint();
  e.register(ep.provider.getMeter('openmetrics'));
  ds.subscribe((b) => e.collect(b), 9995);
  const b = ds.newBatch(o.series);
  for (let i = 0; i < o.series; i++) b.buf.write(`/f/${i}`, i * 16);
  ds.emit(b);
  await ep.listen('127.0.0.1:0');
  const url = `http://127.0.0.1:${ep.address!.port}/metrics`;
  const ms: number[] = [];
  // CPU of this process (the endpoint and the client): less sensitive to a loaded machine than wall time.
  const cpuMs: number[] = [];
  let bytes = 0;
  try {
    for (let k = 0; k < o.scrapes + 2; k++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const text = await (await fetch(url)).text();
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (k >= 2) { ms.push(dt); cpuMs.push((c.user + c.system) / 1000); } // the first two warm up the JIT
      bytes = text.length;
      const n = text.split('\n').filter((l) => l.startsWith('opens_total{')).length;
      if (n !== o.series) throw new Error(`scrape had ${n} series, expected ${o.series}`);
    }
  } finally {
    await ep.close();
  }
  return { series: o.series, bytes, ms, cpuMs };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.scrapeOnly) {
    const s = await scrapeBench(o);
    process.stdout.write(`scrape of ${s.series} series (${s.bytes} bytes): median ${fix(median(s.ms), 1)} ms (CPU ${fix(median(s.cpuMs), 1)} ms), max ${fix(Math.max(...s.ms), 1)} ms\n`);
    return;
  }
  const storm = new Storm(o);
  const results: StormResult[] = [];
  try {
    for (let r = 1; r <= o.runs; r++) {
      for (const s of ['floor-produce', 'ig-none', 'ig-metrics', 'ig-metrics-js'] as const) {
        const res = await storm.run(s, r);
        results.push(res);
        process.stderr.write(`${s} run ${r}: ${int(res.opensPerS)} opens/s${res.cpuS !== undefined ? `, ${fix(res.cpuS, 3)} s CPU, exported ${res.exported}, lost ${res.lost}` : ''}\n`);
      }
    }
  } finally {
    storm.close();
    await stopAll();
  }
  const scrape = await scrapeBench(o);
  const floor = median(results.filter((r) => r.setup === 'floor-produce').map((r) => r.opensPerS));
  const ig = results.filter((r) => r.setup === 'ig-metrics');
  const igJs = results.filter((r) => r.setup === 'ig-metrics-js');
  const none = results.filter((r) => r.setup === 'ig-none');
  const usNone = median(none.map((r) => (r.cpuS! * 1e6) / o.opens));
  const igRate = median(ig.map((r) => r.opensPerS));
  const usPerEvent = median(ig.map((r) => (r.cpuS! * 1e6) / o.opens));
  const rows = results.map((r) => [r.setup, String(r.run), int(r.opensPerS), `${fix((100 * r.opensPerS) / floor, 1)}%`,
    r.cpuS !== undefined ? fix((r.cpuS * 1e6) / o.opens, 3) : '–', r.lost !== undefined ? int(r.lost) : '–',
    r.exported !== undefined ? `${int(r.exported)} / ${int(o.opens)}` : '–', r.notes.join('; ')]);
  const out = [
    `# Metrics benchmark: ${int(o.opens)} opens x ${o.runs} runs, ${cpus().length} CPUs, load average ${loadavg().map((x) => fix(x, 1)).join(' ')}`,
    '',
    markdownTable(['setup', 'run', 'opens/s', 'vs floor', 'ig CPU µs/event', 'lost', 'counter exported', 'notes'], rows),
    '',
    `ig-metrics median: ${fix((100 * igRate) / floor, 1)}% of the floor, ${fix(usPerEvent, 3)} µs CPU per event, lost ${ig.map((r) => r.lost).join('/')}, ` +
      `counter exact in ${ig.filter((r) => r.exported === o.opens).length}/${ig.length} runs; ig -o none without metrics: ${fix(usNone, 3)} µs per event, ` +
      `${fix((100 * median(none.map((r) => r.opensPerS))) / floor, 1)}% of the floor; ig-metrics-js (the JS path): ` +
      `${fix(median(igJs.map((r) => (r.cpuS! * 1e6) / o.opens)), 3)} µs per event, ${fix((100 * median(igJs.map((r) => r.opensPerS))) / floor, 1)}% of the floor.`,
    `Scrape of ${int(scrape.series)} series (${int(scrape.bytes)} bytes): median ${fix(median(scrape.ms), 1)} ms wall (${fix(median(scrape.cpuMs), 1)} ms CPU), max ${fix(Math.max(...scrape.ms), 1)} ms over ${scrape.ms.length} scrapes.`,
  ].join('\n');
  process.stdout.write(`${out}\n`);
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = o.json ?? join(dir, `metrics-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`);
  writeFileSync(path, JSON.stringify({ options: o, loadavg: loadavg(), results, scrape, floor, igRate, usPerEvent, usNone }, null, 2));
  process.stderr.write(`results: ${path}\n`);
}

main().catch(async (e) => {
  process.stderr.write(`metrics bench: ${(e as Error).stack ?? e}\n`);
  await stopAll();
  process.exit(1);
});
