// What the official gadgets' WASM modules cost (issue 12): trace_exec (argument joining) and trace_dns (DNS
// message decoding), each under a storm of its own activity.
//
//   node dist/bench/wasm-gadgets.bench.js [--parts open,dns-search,exec,dns] [--execs N] [--queries N] [--dns-rates 0,2000,5000]
//       [--runs R] [--search-rates 1000,2000,...,0] [--search-seconds S] [--opens N] [--open-runs R] [--json PATH]
//   Issue 12's speed figures in one command: --parts open,dns-search (the default).
//
// exec storm (bench/wasm/gadgetgen.c: vfork + execve /bin/true with 4 arguments, N times), setups interleaved
// per run:
//   exec-baseline   no tracer
//   exec-old-json / exec-old-none   ig run of trace_exec as it was before the module (args joined by the
//                   formatters operator: annotations formatters.strings.*), -o json to a /dev/shm file / -o none
//   exec-wasm-json / exec-wasm-none the official trace_exec (its WASM module joins the args), same outputs
// Both images are built at start by `ig image build` into a store of the bench's own. Per run: the generator's
// execs/s, events with the generator's marker in the output, lost (ig's notices), the consumer's CPU over the
// storm until it is idle, per generated exec (--comm igb_gen: the kernel drops other processes' execs), and whether ig rendered on its reader thread (the native fast path,
// from its -v log).
// DNS rate search (--parts dns-search): one `ig run trace_dns -o json` (to a /dev/shm file) in the bench's network
// namespace, and the query rate stepped up (--search-rates, each for --search-seconds, 0 = as fast as the ping-pong
// goes) until the first step where an event is missing from the output (4 per query) or ig reports a loss; the
// result is the highest rate with 0 lost and its ratio to the ~50 queries/s where upstream's WASM subscriber starts
// dropping. Traffic stays on the namespace's loopback (a responder of the generator's own).
// trace_open with a C-SDK module (--parts open): runs bench/trace_open.bench.ts with the setups of issue 12
// (floor-produce, ig-none, ig-wasm-none, interleaved; --open-runs rounds of --opens opens) and prints its tables.
// DNS storm (gadgetgen dns, in a network namespace the bench creates): a client and a responder on 127.0.0.1:53
// ping-pong N queries at each of --dns-rates (0: as fast as they go), traced by the official trace_dns (the
// kernel sends the packets, its WASM module decodes them) with -o json to a /dev/shm file. On loopback every
// packet is seen twice, so N queries make 4N events; the table says how many arrived and how many were lost.
import { execFileSync } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, start, stop, stopAll, waitAttached, waitExit, waitLine, type Child } from './lib/child.js';
import { countOutput, sumLost } from './lib/count.js';
import { drainCpu, processCpuSeconds } from './lib/proc.js';
import { fix, int, markdownTable, mean } from './lib/table.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IG_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const GEN_C = join(ROOT, 'bench', 'wasm', 'gadgetgen.c');
const EXEC_SETUPS = ['exec-baseline', 'exec-old-json', 'exec-wasm-json', 'exec-old-none', 'exec-wasm-none'] as const;
type ExecSetup = typeof EXEC_SETUPS[number];

interface ExecResult { setup: ExecSetup; run: number; execsPerS: number; execs: number; events?: number; lost: number; cpuS?: number; native?: boolean }
interface DnsResult { rate: number; run: number; queries: number; answered: number; queriesPerS: number; events: number; lost: number; cpuS: number }
interface SearchStep { rate: number; queries: number; queriesPerS: number; events: number; expected: number; lostReported: number; cpuS: number }

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

async function main(): Promise<void> {
  const execs = Number(arg('execs', '20000'));
  const queries = Number(arg('queries', '50000'));
  const rates = arg('dns-rates', '0,2000,5000').split(',').map(Number);
  const runs = Number(arg('runs', '2'));
  const parts = arg('parts', 'open,dns-search').split(',');
  const searchRates = arg('search-rates', '1000,2000,5000,7500,10000,15000,20000,30000,0').split(',').map(Number);
  const searchSeconds = Number(arg('search-seconds', '5'));
  if (parts.includes('open')) openPart();
  const tmp = mkdtempSync(join(tmpdir(), 'ig-bench-wasmg-'));
  const gen = join(tmp, 'gadgetgen');
  execFileSync('gcc', ['-O2', '-o', gen, GEN_C], { stdio: 'inherit' });
  const env = { ...process.env, IG_OCI_STORE: join(tmp, 'store'), IG_SOURCE_PATH: ROOT };
  if (parts.includes('exec')) buildImages(tmp, env);
  const netns = `igb-wasmg-${process.pid}`;
  execFileSync('ip', ['netns', 'add', netns]);
  const execResults: ExecResult[] = [];
  const dnsResults: DnsResult[] = [];
  let search: SearchStep[] = [];
  try {
    execFileSync('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    for (let run = 1; run <= runs; run++) {
      for (const setup of parts.includes('exec') ? EXEC_SETUPS : []) {
        const r = await execRun(setup, run);
        execResults.push(r);
        process.stderr.write(`${setup} run ${run}: ${int(r.execsPerS)} execs/s, events ${r.events ?? '-'}, lost ${r.lost}${r.cpuS !== undefined ? `, ${fix((r.cpuS * 1e6) / r.execs, 1)} µs/exec` : ''}${r.native !== undefined ? `, native render ${r.native}` : ''}\n`);
      }
      for (const rate of parts.includes('dns') ? rates : []) {
        const r = await dnsRun(rate, run);
        dnsResults.push(r);
        process.stderr.write(`dns rate ${rate || 'max'} run ${run}: ${int(r.queriesPerS)} queries/s, events ${r.events}/${4 * r.queries}, lost ${r.lost}, ${fix((r.cpuS * 1e6) / r.events, 2)} µs/event\n`);
      }
    }
    if (parts.includes('dns-search')) search = await dnsSearch();
    report(execResults, dnsResults, execs, queries, runs, search);
  } finally {
    await stopAll();
    try { execFileSync('ip', ['netns', 'del', netns]); } catch (e) { process.stderr.write(`netns ${netns}: ${(e as Error).message}\n`); }
    rmSync(tmp, { recursive: true, force: true });
  }

  /** A socket filter shows in no perf list: ig is ready when a warm-up query's events reach its output. */
  async function waitDnsReady(out: string): Promise<void> {
    const go = join(tmp, 'go-warm');
    writeFileSync(go, '');
    const marker = `igbwarm${process.pid}`;
    for (let t = 0; t < 120; t++) {
      const w = start('warm-up', 'ip', ['netns', 'exec', netns, gen, 'dns', '1', '0', go, marker], { stdout: 'ignore', stderr: 'inherit' });
      await waitExit(w, 10000);
      await sleep(500);
      if (readFileSync(out, 'latin1').includes(marker)) return;
    }
    throw new Error('trace_dns did not see the warm-up queries');
  }

  async function execRun(setup: ExecSetup, run: number): Promise<ExecResult> {
    const go = join(tmp, `go-${setup}-${run}`);
    const out = join('/dev/shm', `ig-bench-wasmg-${process.pid}.out`);
    const err = join(tmp, `${setup}-${run}.err`);
    const marker = `igbexec${process.pid}r${run}`;
    const g = start('gadgetgen', gen, ['exec', String(execs), go, marker], { stdout: 'pipe', stderr: 'inherit' });
    await waitLine(g, /^ready/, 10000);
    let consumer: Child | undefined;
    if (setup !== 'exec-baseline') {
      const image = setup.startsWith('exec-old') ? 'trace_exec_old_bench' : 'trace_exec_wasm_bench';
      const json = setup.endsWith('json');
      const o = openSync(json ? out : '/dev/null', 'w');
      const e = openSync(err, 'w');
      consumer = start(setup, process.execPath, [IG_MAIN, 'run', image, '--host', '--comm', 'igb_gen', '-v', '-o', json ? 'json' : 'none'], { stdout: o, stderr: e, env });
      closeSync(o); closeSync(e);
      await waitAttached(consumer, ['sys_enter_execve', 'sys_exit_execve'], 120000);
      await sleep(300);
    }
    const cpu0 = consumer ? processCpuSeconds(consumer.pid) ?? 0 : 0;
    writeFileSync(go, '');
    await waitExit(g, 600000);
    const kv = Object.fromEntries(g.lines.find((l) => l.startsWith('execs='))!.split(' ').map((p) => p.split('=') as [string, string]));
    const r: ExecResult = { setup, run, execs: Number(kv.execs), execsPerS: Number(kv.execs_per_s), lost: 0 };
    if (consumer) {
      r.cpuS = await drainCpu(consumer.pid, cpu0);
      await stop(consumer, 'SIGINT', 20000);
      const errText = readFileSync(err, 'utf8');
      r.lost = sumLost(errText);
      r.native = /records rendered on the reader thread/.test(errText);
      if (setup.endsWith('json')) { r.events = countOutput(out, marker).events; rmSync(out, { force: true }); }
    }
    return r;
  }

  /**
   * trace_dns in the test netns, its JSON lines to `out` (opened for appending with `append`: the file can be emptied
   * between steps and ig's writes go on at its new end), its stderr to `err`; resolves once it traces.
   */
  async function startDnsConsumer(out: string, err: string, append: boolean): Promise<Child> {
    const o = openSync(out, append ? 'a' : 'w');
    const e = openSync(err, 'w');
    const consumer = start('trace_dns', 'ip', ['netns', 'exec', netns, process.execPath, IG_MAIN, 'run', 'trace_dns', '--host', '-o', 'json'], { stdout: o, stderr: e });
    closeSync(o); closeSync(e);
    try { await waitDnsReady(out); } catch (x) { await stop(consumer, 'SIGINT', 20000); rmSync(out, { force: true }); throw x; }
    return consumer;
  }

  /** `n` DNS queries at `rate`/s (0: as fast as it can) with `marker`, from the go signal to the generator's exit: its report and the consumer's CPU meanwhile. */
  async function dnsQueries(consumer: Child, n: number, rate: number, go: string, marker: string): Promise<{ kv: Record<string, string>; cpuS: number }> {
    const g = start('gadgetgen', 'ip', ['netns', 'exec', netns, gen, 'dns', String(n), String(rate), go, marker], { stdout: 'pipe', stderr: 'inherit' });
    await waitLine(g, /^ready/, 10000);
    const cpu0 = processCpuSeconds(consumer.pid) ?? 0;
    writeFileSync(go, '');
    await waitExit(g, 900000);
    const kv = Object.fromEntries(g.lines.find((l) => l.startsWith('queries='))!.split(' ').map((p) => p.split('=') as [string, string]));
    return { kv, cpuS: await drainCpu(consumer.pid, cpu0) };
  }

  /** One trace_dns for every step; a step's events are the output lines with its own marker. */
  async function dnsSearch(): Promise<SearchStep[]> {
    const out = join('/dev/shm', `ig-bench-wasmg-search-${process.pid}.out`);
    const err = join(tmp, 'search.err');
    const consumer = await startDnsConsumer(out, err, true);
    const steps: SearchStep[] = [];
    try {
      for (const [k, rate] of searchRates.entries()) {
        truncateSync(out, 0);
        const n = rate > 0 ? Math.round(rate * searchSeconds) : 100000;
        const marker = `igbsrch${process.pid}s${k}`;
        const lost0 = sumLost(readFileSync(err, 'utf8'));
        const { kv, cpuS } = await dnsQueries(consumer, n, rate, join(tmp, `go-search-${k}`), marker);
        await sleep(1200); // ig reports ring losses once a second
        const st: SearchStep = {
          rate, queries: n, queriesPerS: Number(kv.queries_per_s), events: countOutput(out, marker).events, expected: 4 * n,
          lostReported: sumLost(readFileSync(err, 'utf8')) - lost0, cpuS,
        };
        steps.push(st);
        process.stderr.write(`dns search ${rate || 'max'}/s: ${int(st.queriesPerS)} queries/s, events ${st.events}/${st.expected}, lost reported ${st.lostReported}, ${fix((cpuS * 1e6) / Math.max(1, st.events), 2)} µs/event\n`);
        if (st.events < st.expected || st.lostReported > 0) break;
      }
    } finally {
      await stop(consumer, 'SIGINT', 20000);
      rmSync(out, { force: true });
    }
    return steps;
  }

  async function dnsRun(rate: number, run: number): Promise<DnsResult> {
    const out = join('/dev/shm', `ig-bench-wasmg-dns-${process.pid}.out`);
    const err = join(tmp, `dns-${rate}-${run}.err`);
    const marker = `igbdns${process.pid}r${run}x${rate}`;
    const consumer = await startDnsConsumer(out, err, false);
    const { kv, cpuS } = await dnsQueries(consumer, queries, rate, join(tmp, `go-dns-${rate}-${run}`), marker);
    await stop(consumer, 'SIGINT', 20000);
    const events = countOutput(out, marker).events;
    rmSync(out, { force: true });
    return { rate, run, queries: Number(kv.queries), answered: Number(kv.answered), queriesPerS: Number(kv.queries_per_s), events, lost: sumLost(readFileSync(err, 'utf8')), cpuS };
  }
}

/** Issue 12's trace_open targets: bench/trace_open.bench.ts with its WASM setups, tables passed through. */
function openPart(): void {
  const opens = arg('opens', '1000000');
  const rounds = arg('open-runs', '5');
  execFileSync(process.execPath, [join(ROOT, 'dist', 'bench', 'trace_open.bench.js'), '--setups', 'floor-produce,ig-none,ig-wasm-none',
    '--runs', rounds, '--opens', opens, '--latency-runs', '0'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** trace_exec as it is (with its module) and as it was (formatter join, no module), into the bench's store. */
function buildImages(tmp: string, env: NodeJS.ProcessEnv): void {
  const src = join(ROOT, 'gadgets', 'trace_exec');
  const wasmDir = join(tmp, 'exec-wasm');
  const oldDir = join(tmp, 'exec-old');
  for (const d of [wasmDir, oldDir]) mkdirSync(d, { recursive: true });
  for (const f of ['program.bpf.c', 'gadget.yaml', 'program.c', 'build.yaml']) cpSync(join(src, f), join(wasmDir, f));
  cpSync(join(src, 'program.bpf.c'), join(oldDir, 'program.bpf.c'));
  const yaml = readFileSync(join(src, 'gadget.yaml'), 'utf8');
  const old = yaml.replace(/(\n {6}args:\n {8}annotations:\n)/, "$1          formatters.strings.separator: ' '\n          formatters.strings.length: args_size\n");
  if (old === yaml) throw new Error('gadget.yaml of trace_exec: no args annotations to patch');
  writeFileSync(join(oldDir, 'gadget.yaml'), old);
  for (const [dir, tag] of [[wasmDir, 'trace_exec_wasm_bench'], [oldDir, 'trace_exec_old_bench']] as const) {
    execFileSync(process.execPath, [IG_MAIN, 'image', 'build', dir, '-t', tag], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

function report(ex: ExecResult[], dns: DnsResult[], execs: number, queries: number, runs: number, search: SearchStep[]): void {
  const base = mean(ex.filter((r) => r.setup === 'exec-baseline').map((r) => r.execsPerS));
  const execRows = EXEC_SETUPS.filter((s) => ex.some((r) => r.setup === s)).map((s) => {
    const rs = ex.filter((r) => r.setup === s);
    const eps = mean(rs.map((r) => r.execsPerS));
    const cpu = rs.every((r) => r.cpuS !== undefined) ? fix(mean(rs.map((r) => (r.cpuS! * 1e6) / r.execs)), 1) : '-';
    const ev = rs.every((r) => r.events !== undefined) ? `${int(rs.reduce((a, r) => a + r.events!, 0))} / ${int(rs.reduce((a, r) => a + r.execs, 0))}` : '-';
    const native = rs.every((r) => r.native === undefined) ? '-' : rs.map((r) => (r.native ? 'yes' : 'no')).join('/');
    return [s, rs.map((r) => int(r.execsPerS)).join(' / '), `${fix((eps / base) * 100, 1)}%`, ev, int(rs.reduce((a, r) => a + r.lost, 0)), cpu, native];
  });
  const dnsRows = [...new Set(dns.map((r) => r.rate))].map((rate) => {
    const rs = dns.filter((r) => r.rate === rate);
    return [rate === 0 ? 'max' : int(rate), rs.map((r) => int(r.queriesPerS)).join(' / '), `${int(rs.reduce((a, r) => a + r.events, 0))} / ${int(rs.reduce((a, r) => a + 4 * r.queries, 0))}`,
      int(rs.reduce((a, r) => a + r.lost, 0)), fix(mean(rs.map((r) => (r.cpuS * 1e6) / Math.max(1, r.events))), 2), `${int(mean(rs.map((r) => r.queriesPerS)) / 50)}x`];
  });
  const clean = search.filter((r) => r.events >= r.expected && r.lostReported === 0);
  const best = clean.length ? clean.reduce((a, r) => (r.queriesPerS > a.queriesPerS ? r : a)) : undefined;
  const firstLoss = search.find((r) => r.events < r.expected || r.lostReported > 0);
  const searchText = !search.length ? '' : `### DNS rate search (trace_dns with its WASM module, -o json to /dev/shm; ${searchSecondsText()}, loopback in a netns: 4 events per query)\n\n`
    + markdownTable(['rate asked', 'queries/s reached', 'events captured / expected', 'lost reported', 'ig CPU µs/event'], search.map((r) => [
      r.rate === 0 ? 'max' : int(r.rate), int(r.queriesPerS), `${int(r.events)} / ${int(r.expected)}`, int(r.lostReported), fix((r.cpuS * 1e6) / Math.max(1, r.events), 2)]))
    + `\n\nHighest rate with 0 lost: ${best ? `**${int(best.queriesPerS)} queries/s** (${int(best.queriesPerS * 4)} events/s), **${int(best.queriesPerS / 50)}x** upstream's ~50 queries/s` : 'none'}`
    + `${firstLoss ? `; first loss at ${int(firstLoss.queriesPerS)} queries/s (${int(firstLoss.expected - firstLoss.events)} of ${int(firstLoss.expected)} events missing, ${int(firstLoss.lostReported)} reported)` : '; no step lost events (the generator\'s ping-pong is the limit)'}.\n\n`;
  const text = searchText
    + (ex.length ? `### exec storm (${int(execs)} execs x ${runs} runs)\n\n`
      + markdownTable(['setup', 'execs/s (runs)', 'vs baseline', 'events captured', 'lost', 'ig CPU µs/exec', 'native render'], execRows) + '\n\n' : '')
    + (dns.length ? `### DNS storm (${int(queries)} queries x ${runs} runs, loopback in a netns: 4 events per query)\n\n`
      + markdownTable(['rate asked', 'queries/s (runs)', 'events captured / expected', 'lost', 'ig CPU µs/event', 'vs upstream\'s ~50 queries/s'], dnsRows) + '\n\n' : '')
    + `${cpus().length} CPUs; load average at the end ${loadavg().map((x) => fix(x, 1)).join(' ')}\n`;
  process.stdout.write(text);
  const json = arg('json', join(ROOT, 'bench', 'results', `wasm-gadgets-${new Date().toISOString().slice(0, 10)}.json`));
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify({ execs, queries, runs, exec: ex, dns, search, loadavg: loadavg() }, null, 2) + '\n');
}

function searchSecondsText(): string {
  return `${arg('search-seconds', '5')} s per step`;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  void stopAll().then(() => process.exit(1));
});
