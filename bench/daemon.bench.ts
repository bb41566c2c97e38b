// ig daemon benchmark (issue 14 item 5): the trace_open storm traced through `ig daemon` and
// `gadgetctl run trace_open --host -o json --pid P > /dev/null` over a unix socket.
//
//   node dist/bench/daemon.bench.js [--opens N] [--runs R] [--latency-runs L] [--compare [--base-env K=V,...]] [--stall-ms MS] [--json PATH]
//
// Setups, interleaved per run: `floor-produce` (trace_open's programs attached through the addon, every event
// produced into an 8 MiB ring a native thread advances without reading: the kernel-side floor, as in
// bench/trace_open.bench.ts), `daemon-null` (the issue's setup: output to /dev/null; events lost are the
// "lost N events" notices of client and daemon) and `daemon-file` (output to a /dev/shm file, lines counted).
// With --compare a second daemon runs beside the first with the environment of --base-env (default
// IG_WIRE_READER=0: frames written on the JS thread, the build before reader-thread frames; IG_WIRE_NATIVE=0
// IG_CORE_BTF=0 is the build before native frames) and `daemon-null-base` joins the rotation; its gadgetctl gets
// the same environment (IG_GRPC_RAW=0: the client's event stream through grpc-js instead of its raw HTTP/2 path).
// The daemon's own steps each have a switch for such a comparison: IG_WIRE_LEAN=0 (whole record copies, every value
// written per record), IG_WIRE_FRAME_MS=10 (frames every 10 ms instead of 25), IG_WIRE_DIRECT=0, IG_WIRE_TAILS=0,
// IG_WIRE_REUSE=0, IG_WIRE_FAST=0 (every memo value of every record on its own), IG_WIRE_WALL_NEXT=0 (every new
// second's timestamp text from JS), IG_WIRE_REFRESH=0 (TTL'd memo answers expire under a storm), IG_WIRE_BUDGET=events (the per-client queue
// bounded in events, as before 2026-12-07, not messages and bytes) (docs/daemon.md, Speed).
// --stall-ms MS: gadgetctl is stopped (SIGSTOP) for MS ms as the storm starts, a client late once (its first
// frames, a GC, a busy machine): what the daemon's per-client queue must ride out without dropping.
// CPU per event = utime+stime over the load window (until both are idle) / opens (and / events that reached the
// client), for the daemon and for gadgetctl separately. First event: a warm daemon, a ticker opening every 10 ms (comm igb_tick); from spawning
// gadgetctl (the bundle bin/gadgetctl runs) to its first line on stdout, each daemon in turn.
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
const CTL_BUNDLE = join(ROOT, 'dist', 'src', 'bundle', 'gadgetctl-start.cjs'); // what bin/gadgetctl runs
const CTL_MAIN = existsSync(CTL_BUNDLE) ? CTL_BUNDLE : join(ROOT, 'dist', 'src', 'cli', 'gadgetctl', 'main.js');
const FLOOR_JS = join(ROOT, 'dist', 'bench', 'lib', 'floor.js');
const LOADGEN_C = join(ROOT, 'bench', 'loadgen.c');
const OPEN_TPS = ['sys_enter_openat', 'sys_exit_openat'];
const GEN_COMM = 'igb_storm';

type Setup = 'floor-produce' | 'daemon-null' | 'daemon-null-base' | 'daemon-file';

interface Result { setup: Setup; run: number; opensPerS: number; opens: number; events?: number; lost: number; daemonCpuS?: number; clientCpuS?: number }

const USAGE = 'usage: node dist/bench/daemon.bench.js [--opens N] [--runs R] [--latency-runs L] [--compare [--base-env K=V,...]] [--stall-ms MS] [--json PATH]\n';
const VALUE_FLAGS = new Set(['--opens', '--runs', '--latency-runs', '--base-env', '--stall-ms', '--json']);

/** --help prints the usage; an unknown flag or one without its value is refused before any daemon starts. */
function checkArgs(argv: string[]): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    if (a === '--compare') continue;
    if (!VALUE_FLAGS.has(a)) throw new Error(`unknown argument ${a} (try --help)`);
    if (argv[++i] === undefined) throw new Error(`${a} needs a value (try --help)`);
  }
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

async function main(): Promise<void> {
  const opens = Number(arg('opens', '300000'));
  const runs = Number(arg('runs', '2'));
  const latencyRuns = Number(arg('latency-runs', '3'));
  const stallMs = Number(arg('stall-ms', '0'));
  const tmp = mkdtempSync(join(tmpdir(), 'ig-bench-daemon-'));
  const loadgen = join(tmp, 'loadgen');
  execFileSync('gcc', ['-O2', '-o', loadgen, LOADGEN_C], { stdio: 'inherit' });
  const compare = process.argv.includes('--compare');
  const SETUPS: Setup[] = compare ? ['floor-produce', 'daemon-null', 'daemon-null-base', 'daemon-file'] : ['floor-produce', 'daemon-null', 'daemon-file'];
  const startDaemon = async (name: string, env: Record<string, string>): Promise<{ proc: Child; address: string }> => {
    const sock = join(tmp, `${name}.sock`);
    const err = openSync(join(tmp, `${name}.err`), 'w');
    const proc = start(`ig daemon (${name})`, process.execPath, [IG_MAIN, 'daemon', '-H', `unix://${sock}`, '--instances-dir', join(tmp, `gadgets-${name}`)], { stdout: 'ignore', stderr: err, env: { ...process.env, ...env } });
    closeSync(err);
    for (let t = 0; !existsSync(sock); t++) { if (t > 200 || proc.exit) throw new Error(`ig daemon (${name}) did not start`); await sleep(50); }
    return { proc, address: `unix://${sock}` };
  };
  const native = await startDaemon('native', {});
  const baseEnv = Object.fromEntries(arg('base-env', 'IG_WIRE_READER=0').split(',').filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
  const js = compare ? await startDaemon('js', baseEnv) : undefined;
  const results: Result[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const setup of SETUPS) {
        const r = await runOne(setup, run);
        results.push(r);
        const per = (x?: number) => (x === undefined ? '' : fix((x * 1e6) / r.opens, 3));
        process.stderr.write(`${setup} run ${run}: ${int(r.opensPerS)} opens/s, lost ${r.lost}${r.daemonCpuS !== undefined ? `, daemon ${per(r.daemonCpuS)} + client ${per(r.clientCpuS)} µs/event` : ''}\n`);
      }
    }
    const latencies: Record<string, number[]> = { native: [] };
    if (js) latencies.js = [];
    await firstEvent(latencyRuns, latencies);
    report(results, latencies, opens, runs, SETUPS, compare ? arg('base-env', 'IG_WIRE_READER=0') : undefined);
  } finally {
    await stop(native.proc, 'SIGTERM');
    if (js) await stop(js.proc, 'SIGTERM');
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }

  async function runOne(setup: Setup, run: number): Promise<Result> {
    const daemon = setup === 'daemon-null-base' ? js! : native;
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
      consumer = start(setup, process.execPath, [CTL_MAIN, 'run', 'trace_open', '--host', '-o', 'json', '--pid', String(gen.pid), '--remote-address', daemon.address], { stdout: o, stderr: e, env: setup === 'daemon-null-base' ? { ...process.env, ...baseEnv } : undefined });
      closeSync(o); closeSync(e);
      await waitAttached(daemon.proc, OPEN_TPS, 60000);
      await sleep(300);
    }
    const daemonCpu = () => (setup === 'floor-produce' ? 0 : processCpuSeconds(daemon.proc.pid) ?? 0);
    const clientCpu = () => (setup === 'floor-produce' ? 0 : processCpuSeconds(consumer.pid) ?? 0);
    const cpu = () => daemonCpu() + clientCpu();
    const d0 = daemonCpu();
    const c0 = clientCpu();
    writeFileSync(go, '');
    if (stallMs > 0 && setup !== 'floor-produce') {
      process.kill(consumer.pid, 'SIGSTOP');
      await sleep(stallMs);
      process.kill(consumer.pid, 'SIGCONT');
    }
    await waitExit(gen, 300000);
    const line = gen.lines.find((l) => l.startsWith('opens='))!;
    const kv = Object.fromEntries(line.split(' ').map((p) => p.split('=') as [string, string]));
    let daemonCpuS: number | undefined;
    let clientCpuS: number | undefined;
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
      daemonCpuS = daemonCpu() - d0;
      clientCpuS = clientCpu() - c0;
    }
    await stop(consumer, 'SIGINT', 20000);
    const errText = readFileSync(err, 'utf8');
    let events: number | undefined;
    if (setup === 'daemon-file') { events = countOutput(out, `"${GEN_COMM}"`).events; rmSync(out, { force: true }); }
    if (setup !== 'floor-produce') await waitDetached(daemon.proc);
    // Where events were lost (the daemon's per-client queue: "this client read too slowly"; the kernel ring: the
    // gadget's own notice), first and last notice.
    const lostLines = errText.split('\n').filter((l) => /lost \d+/.test(l));
    if (lostLines.length) process.stderr.write(`${setup} run ${run}: ${lostLines.length} lost-event notices, e.g. ${lostLines[0]} ... ${lostLines[lostLines.length - 1]}\n`);
    return { setup, run, opens: Number(kv.opens), opensPerS: Number(kv.opens_per_s), events, lost: sumLost(errText), daemonCpuS, clientCpuS };
  }

  async function waitDetached(daemon: Child): Promise<void> {
    for (let t = 0; t < 100; t++) {
      const r = execFileSync('bpftool', ['perf', 'list', '-j'], { encoding: 'utf8' });
      if (!(JSON.parse(r || '[]') as { pid: number }[]).some((x) => x.pid === daemon.pid)) return;
      await sleep(100);
    }
  }

  async function firstEvent(n: number, out: Record<string, number[]>): Promise<void> {
    const tick = start('ticker', loadgen, ['tick', '10'], { stdout: 'ignore', stderr: 'inherit' });
    try {
      for (let i = 0; i < n; i++) {
        for (const [name, d] of Object.entries({ native, js })) {
          if (!d) continue;
          const t0 = performance.now();
          const c = start('gadgetctl', process.execPath, [CTL_MAIN, 'run', 'trace_open', '--host', '-o', 'json', '--comm', 'igb_tick', '--remote-address', d.address], { stdout: 'pipe', stderr: 'inherit' });
          await waitLine(c, /igb_tick/, 30000);
          out[name]!.push(c.firstLineAt! - t0);
          await stop(c, 'SIGINT');
          await waitDetached(d.proc);
        }
      }
    } finally { await stop(tick, 'SIGKILL'); }
  }
}

function report(results: Result[], latencies: Record<string, number[]>, opens: number, runs: number, setups: Setup[], baseEnv?: string): void {
  const by = (s: Setup) => results.filter((r) => r.setup === s);
  const floor = mean(by('floor-produce').map((r) => r.opensPerS));
  const perEvent = (rs: Result[], k: 'daemonCpuS' | 'clientCpuS') => (rs.every((r) => r[k] !== undefined) ? mean(rs.map((r) => (r[k]! * 1e6) / r.opens)) : undefined);
  // Per event that reached the client: a build that loses more events spends less per generated one.
  const perDelivered = (rs: Result[]) => (rs.every((r) => r.daemonCpuS !== undefined) ? mean(rs.map((r) => ((r.daemonCpuS! + r.clientCpuS!) * 1e6) / Math.max(1, r.opens - r.lost))) : undefined);
  const rows = setups.map((s) => {
    const rs = by(s);
    const ops = mean(rs.map((r) => r.opensPerS));
    const d = perEvent(rs, 'daemonCpuS');
    const c = perEvent(rs, 'clientCpuS');
    const ev = rs.every((r) => r.events !== undefined) ? rs.reduce((a, r) => a + r.events!, 0) : undefined;
    return [s, int(ops), `${fix((ops / floor) * 100, 1)}%`, ev === undefined ? 'not counted' : `${int(ev)} / ${int(rs.reduce((a, r) => a + r.opens, 0))}`, int(rs.reduce((a, r) => a + r.lost, 0)),
      d === undefined ? '-' : fix(d, 3), c === undefined ? '-' : fix(c, 3), d === undefined || c === undefined ? '-' : fix(d + c, 3), perDelivered(rs) === undefined ? '-' : fix(perDelivered(rs)!, 3)];
  });
  const table = markdownTable(['setup', 'traced workload opens/s', 'vs floor', 'events captured', 'lost', 'daemon CPU µs/open', 'client CPU µs/open', 'daemon+client µs/open', 'daemon+client µs/delivered event'], rows);
  const lat = Object.entries(latencies).map(([name, ms]) => `${name === 'js' ? `base daemon (${baseEnv})` : 'daemon'}: ${ms.map((x) => fix(x, 0)).join(', ')} (median ${fix(median(ms), 0)})`).join('; ');
  const text = `${table}\n\nFirst event with a warm daemon (ms): ${lat}\n`
    + `${int(opens)} opens x ${runs} runs${Number(arg('stall-ms', '0')) > 0 ? `; gadgetctl stopped ${arg('stall-ms', '0')} ms at each storm's start` : ''}; ${cpus().length} CPUs; load average at the end ${loadavg().map((x) => fix(x, 1)).join(' ')}\n`;
  process.stdout.write(text);
  const json = arg('json', join(ROOT, 'bench', 'results', `daemon-${new Date().toISOString().slice(0, 10)}.json`));
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify({ opens, runs, results, latencies, loadavg: loadavg() }, null, 2) + '\n');
}

try {
  checkArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(2);
}
main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  void stopAll().then(() => process.exit(1));
});
