// ig daemon benchmark (issue 14 item 5): the trace_open storm traced through `ig daemon` and
// `gadgetctl run trace_open --host -o json --pid P > /dev/null` over a unix socket.
//
//   node dist/bench/daemon.bench.js [--opens N] [--runs R] [--latency-runs L] [--json PATH]
//
// Setups, interleaved per run: `floor-produce` (trace_open's programs attached through the addon, every event
// produced into an 8 MiB ring a native thread advances without reading: the kernel-side floor, as in
// bench/trace_open.bench.ts), `daemon-null` (the issue's setup: output to /dev/null; events lost are the
// "lost N events" notices of client and daemon) and `daemon-file` (output to a /dev/shm file, lines counted).
// CPU per event = (daemon + gadgetctl utime+stime over the load window, until both are idle) / events.
// First event: a warm daemon, a ticker opening every 10 ms (comm igb_tick); from spawning gadgetctl to its first
// line on stdout.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { start, stop, stopAll, waitAttached, waitExit, waitLine, sleep, type Child } from './lib/child.js';
import { countOutput, sumLost } from './lib/count.js';
import { clockTicks, processCpuSeconds } from './lib/proc.js';
import { fix, int, markdownTable, mean, median } from './lib/table.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IG_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CTL_MAIN = join(ROOT, 'dist', 'src', 'cli', 'gadgetctl', 'main.js');
const FLOOR_JS = join(ROOT, 'dist', 'bench', 'lib', 'floor.js');
const LOADGEN_C = join(ROOT, 'bench', 'loadgen.c');
const OPEN_TPS = ['sys_enter_openat', 'sys_exit_openat'];
const GEN_COMM = 'igb_storm';

type Setup = 'floor-produce' | 'daemon-null' | 'daemon-file';
const SETUPS: Setup[] = ['floor-produce', 'daemon-null', 'daemon-file'];

interface Result { setup: Setup; run: number; opensPerS: number; opens: number; events?: number; lost: number; cpuS?: number }

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

async function main(): Promise<void> {
  const opens = Number(arg('opens', '300000'));
  const runs = Number(arg('runs', '2'));
  const latencyRuns = Number(arg('latency-runs', '3'));
  const tmp = mkdtempSync(join(tmpdir(), 'ig-bench-daemon-'));
  const loadgen = join(tmp, 'loadgen');
  execFileSync('gcc', ['-O2', '-o', loadgen, LOADGEN_C], { stdio: 'inherit' });
  const sock = join(tmp, 'ig.sock');
  const address = `unix://${sock}`;
  const daemonErr = openSync(join(tmp, 'daemon.err'), 'w');
  const daemon = start('ig daemon', process.execPath, [IG_MAIN, 'daemon', '-H', address, '--instances-dir', join(tmp, 'gadgets')], { stdout: 'ignore', stderr: daemonErr });
  closeSync(daemonErr);
  for (let t = 0; !existsSync(sock); t++) { if (t > 200 || daemon.exit) throw new Error('ig daemon did not start'); await sleep(50); }
  const results: Result[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const setup of SETUPS) {
        const r = await runOne(setup, run);
        results.push(r);
        process.stderr.write(`${setup} run ${run}: ${int(r.opensPerS)} opens/s, lost ${r.lost}${r.cpuS !== undefined ? `, ${fix((r.cpuS * 1e6) / r.opens, 3)} µs/event` : ''}\n`);
      }
    }
    const latencies = await firstEvent(latencyRuns);
    report(results, latencies, opens, runs);
  } finally {
    await stop(daemon, 'SIGTERM');
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }

  async function runOne(setup: Setup, run: number): Promise<Result> {
    const go = join(tmp, `go-${setup}-${run}`);
    const out = join('/dev/shm', `ig-bench-daemon-${process.pid}.out`);
    const err = join(tmp, `${setup}-${run}.err`);
    const gen = start('loadgen', loadgen, ['storm', String(opens), go], { stdout: 'pipe', stderr: 'inherit' });
    await waitLine(gen, /^ready/, 10000);
    let consumer: Child;
    const e = openSync(err, 'w');
    if (setup === 'floor-produce') {
      consumer = start(setup, process.execPath, [FLOOR_JS, '--pid', String(gen.pid), '--discard', '--ring-bytes', String(8 << 20), '--linger-us', '4000'], { stdout: 'pipe', stderr: e });
      closeSync(e);
      await waitLine(consumer, /^ready/, 60000);
    } else {
      const o = openSync(setup === 'daemon-file' ? out : '/dev/null', 'w');
      consumer = start(setup, process.execPath, [CTL_MAIN, 'run', 'trace_open', '--host', '-o', 'json', '--pid', String(gen.pid), '--remote-address', address], { stdout: o, stderr: e });
      closeSync(o); closeSync(e);
      await waitAttached(daemon, OPEN_TPS, 60000);
      await sleep(300);
    }
    const cpu = () => (processCpuSeconds(daemon.pid) ?? 0) + (setup === 'floor-produce' ? 0 : processCpuSeconds(consumer.pid) ?? 0);
    const cpu0 = cpu();
    writeFileSync(go, '');
    await waitExit(gen, 300000);
    const line = gen.lines.find((l) => l.startsWith('opens='))!;
    const kv = Object.fromEntries(line.split(' ').map((p) => p.split('=') as [string, string]));
    let cpuS: number | undefined;
    if (setup !== 'floor-produce') {
      // Drained when neither process used more than one tick of CPU for 500 ms.
      const tick = 1 / clockTicks();
      let last = cpu();
      for (let stable = 0; stable < 5;) {
        await sleep(100);
        const c = cpu();
        stable = c - last > 2 * tick + 1e-9 ? 0 : stable + 1;
        last = c;
      }
      cpuS = last - cpu0;
    }
    await stop(consumer, 'SIGINT', 20000);
    const errText = readFileSync(err, 'utf8');
    let events: number | undefined;
    if (setup === 'daemon-file') { events = countOutput(out, `"${GEN_COMM}"`).events; rmSync(out, { force: true }); }
    if (setup !== 'floor-produce') await waitDetached();
    return { setup, run, opens: Number(kv.opens), opensPerS: Number(kv.opens_per_s), events, lost: sumLost(errText), cpuS };
  }

  async function waitDetached(): Promise<void> {
    for (let t = 0; t < 100; t++) {
      const r = execFileSync('bpftool', ['perf', 'list', '-j'], { encoding: 'utf8' });
      if (!(JSON.parse(r || '[]') as { pid: number }[]).some((x) => x.pid === daemon.pid)) return;
      await sleep(100);
    }
  }

  async function firstEvent(n: number): Promise<number[]> {
    const tick = start('ticker', loadgen, ['tick', '10'], { stdout: 'ignore', stderr: 'inherit' });
    const ms: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const c = start('gadgetctl', process.execPath, [CTL_MAIN, 'run', 'trace_open', '--host', '-o', 'json', '--comm', 'igb_tick', '--remote-address', address], { stdout: 'pipe', stderr: 'inherit' });
        await waitLine(c, /igb_tick/, 30000);
        ms.push(c.firstLineAt! - t0);
        await stop(c, 'SIGINT');
        await waitDetached();
      }
    } finally { await stop(tick, 'SIGKILL'); }
    return ms;
  }
}

function report(results: Result[], latencies: number[], opens: number, runs: number): void {
  const by = (s: Setup) => results.filter((r) => r.setup === s);
  const floor = mean(by('floor-produce').map((r) => r.opensPerS));
  const rows = SETUPS.map((s) => {
    const rs = by(s);
    const ops = mean(rs.map((r) => r.opensPerS));
    const cpu = rs.every((r) => r.cpuS !== undefined) ? mean(rs.map((r) => (r.cpuS! * 1e6) / r.opens)) : undefined;
    const ev = rs.every((r) => r.events !== undefined) ? rs.reduce((a, r) => a + r.events!, 0) : undefined;
    return [s, int(ops), `${fix((ops / floor) * 100, 1)}%`, ev === undefined ? 'not counted' : `${int(ev)} / ${int(rs.reduce((a, r) => a + r.opens, 0))}`, int(rs.reduce((a, r) => a + r.lost, 0)), cpu === undefined ? '-' : fix(cpu, 3)];
  });
  const table = markdownTable(['setup', 'traced workload opens/s', 'vs floor', 'events captured', 'lost', 'daemon+client CPU µs/event'], rows);
  const text = `${table}\n\nFirst event with a warm daemon (ms): ${latencies.map((x) => fix(x, 0)).join(', ')} (median ${fix(median(latencies), 0)})\n`
    + `${int(opens)} opens x ${runs} runs; ${cpus().length} CPUs; load average at the end ${loadavg().map((x) => fix(x, 1)).join(' ')}\n`;
  process.stdout.write(text);
  const json = arg('json', join(ROOT, 'bench', 'results', `daemon-${new Date().toISOString().slice(0, 10)}.json`));
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify({ opens, runs, results, latencies, loadavg: loadavg() }, null, 2) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  void stopAll().then(() => process.exit(1));
});
