// Exec storm (issue 16): what ig costs per event when every event comes from a new process, against the peers.
//
//   node dist/bench/exec_storm.bench.js [--execs N] [--runs R] [--setups a,b,...] [--base DIR] [--json PATH]
//
// Generator bench/wasm/gadgetgen.c: N x (vfork + execve of a copy of /bin/true named igb_true, with the run's
// marker among its arguments) + waitpid, from a process named igb_gen. Setups, interleaved per run, each with
// its output in /dev/shm (counted by marker, so other processes' events on this shared machine do not count):
//   baseline        no tracer
//   ig-trace_exec   ig run trace_exec --host --comm igb_gen -o json   (the kernel drops other processes' execs)
//   bpftrace        an execsnoop-like script: sys_enter_execve /comm == "igb_gen"/, time, pid, ppid, comm, argv
//   execsnoop       libbpf-tools /usr/sbin/execsnoop (perf buffer; it has no in-kernel command filter, so it
//                   sees every exec of the machine; -n igb picks the printed lines, not the traced ones)
//   ig-trace_open   ig run trace_open --host --comm igb_true -o json  (the opens of each new process: the loader
//                   and libc; events counted by the comm)
//   base-trace_exec, base-trace_open  the same with the ig of another checkout (--base DIR: its dist/, built), e.g.
//                   main's beside a change, in the same run (added to the default setups when --base is given)
// Per run: the generator's execs/s, events in the output, lost (the tools' notices), and the consumer's CPU
// (its threads' schedstat in ns, start-up excluded; utime + stime in 10 ms ticks beside it, as earlier runs
// reported) from the storm's start until it is idle, per event; for ig, its reader thread's share and the sleeps it
// woke from. Start-up
// ends when the consumer has been idle for 600 ms after attaching: ig's work timed after its attach (the exe
// tracker's sweep 500 ms after its load, the resident-set trim) took 9-50 ms of CPU after the former fixed
// 300 ms wait, 0.5-2.5 us per event of a 20,000-exec storm. ig's -v log says whether it rendered on its reader
// thread, how many records JS saw, and the reader thread's polls (wake-ups with records).
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, start, stop, stopAll, waitAttached, waitExit, waitLine, type Child } from './lib/child.js';
import { countOutput, sumLost } from './lib/count.js';
import { clockTicks, drainCpu, processCpuNs, processCpuSeconds, readerThread, threadCpu } from './lib/proc.js';
import { fix, int, markdownTable, mean } from './lib/table.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IG_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const GEN_C = join(ROOT, 'bench', 'wasm', 'gadgetgen.c');
const SETUPS = ['baseline', 'ig-trace_exec', 'bpftrace', 'execsnoop', 'ig-trace_open', 'base-trace_exec', 'base-trace_open'] as const;
const BASE_SETUPS: readonly string[] = ['base-trace_exec', 'base-trace_open'];
type Setup = typeof SETUPS[number];
const TRUE_NAME = 'igb_true';

/** cpuS: from the threads' schedstat (ns); tickCpuS: utime+stime (10 ms ticks), the figure earlier runs reported. */
/** readerS, readerSwitches: ig's reader thread alone (the thread with its own timer slack), CPU and sleeps it woke from. */
interface Result { setup: Setup; run: number; execs: number; execsPerS: number; events?: number; lost: number; cpuS?: number; tickCpuS?: number; readerS?: number; readerSwitches?: number; native?: string }

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const BT_SCRIPT = `tracepoint:syscalls:sys_enter_execve /comm == "igb_gen"/ {
  time("%H:%M:%S ");
  printf("%-7d %-7d %-16s ", pid, curtask->real_parent->tgid, comm);
  join(args->argv);
}
`;

async function main(): Promise<void> {
  const execs = Number(arg('execs', '20000'));
  const runs = Number(arg('runs', '2'));
  const base = arg('base', '');
  const baseMain = base ? join(base, 'dist', 'src', 'cli', 'main.js') : '';
  if (base && !existsSync(baseMain)) throw new Error(`--base: ${baseMain} not found (build that checkout first)`);
  const setups = arg('setups', SETUPS.filter((s) => base || !BASE_SETUPS.includes(s)).join(',')).split(',') as Setup[];
  for (const s of setups) if (!SETUPS.includes(s)) throw new Error(`--setups: unknown setup ${s} (known: ${SETUPS.join(', ')})`);
  if (!base && setups.some((s) => BASE_SETUPS.includes(s))) throw new Error('--setups: base-* setups need --base DIR');
  const tmp = mkdtempSync(join(tmpdir(), 'ig-bench-execstorm-'));
  const gen = join(tmp, 'gadgetgen');
  execFileSync('gcc', ['-O2', '-o', gen, GEN_C], { stdio: 'inherit' });
  const trueCopy = join(tmp, TRUE_NAME);
  copyFileSync('/bin/true', trueCopy);
  execFileSync('chmod', ['755', trueCopy]);
  const bt = join(tmp, 'execsnoop.bt');
  writeFileSync(bt, BT_SCRIPT);
  const results: Result[] = [];
  const load0 = loadavg();
  try {
    for (let run = 1; run <= runs; run++) {
      for (const setup of setups) {
        const r = await oneRun(setup, run);
        results.push(r);
        process.stderr.write(`${setup} run ${run}: ${int(r.execsPerS)} execs/s, events ${r.events ?? '-'}, lost ${r.lost}`
          + `${r.cpuS !== undefined && r.events ? `, ${fix((r.cpuS * 1e6) / r.events, 2)} µs/event (ticks ${fix((r.tickCpuS! * 1e6) / r.events, 1)})` : ''}${r.readerS !== undefined && r.events ? `, reader thread ${fix((r.readerS * 1e6) / r.events, 2)} µs/event, ${r.readerSwitches} wake-ups` : ''}${r.native ? `, ${r.native}` : ''}\n`);
      }
    }
    report(results, execs, runs, load0);
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }

  async function oneRun(setup: Setup, run: number): Promise<Result> {
    const go = join(tmp, `go-${setup}-${run}`);
    const out = join('/dev/shm', `ig-bench-execstorm-${process.pid}.out`);
    const err = join(tmp, `${setup}-${run}.err`);
    const marker = `igbexec${process.pid}r${run}`;
    const g = start('gadgetgen', gen, ['exec', String(execs), go, marker, trueCopy], { stdout: 'pipe', stderr: 'inherit' });
    await waitLine(g, /^ready/, 10000);
    let consumer: Child | undefined;
    if (setup !== 'baseline') {
      const o = openSync(out, 'w');
      const e = openSync(err, 'w');
      let cmd: string; let args: string[]; let hooks: string[];
      if (setup === 'ig-trace_exec' || setup === 'base-trace_exec') {
        cmd = process.execPath; args = [setup === 'ig-trace_exec' ? IG_MAIN : baseMain, 'run', 'trace_exec', '--host', '--comm', 'igb_gen', '-v', '-o', 'json'];
        hooks = ['sys_enter_execve', 'sys_exit_execve'];
      } else if (setup === 'ig-trace_open' || setup === 'base-trace_open') {
        cmd = process.execPath; args = [setup === 'ig-trace_open' ? IG_MAIN : baseMain, 'run', 'trace_open', '--host', '--comm', TRUE_NAME, '-v', '-o', 'json'];
        hooks = ['sys_enter_openat', 'sys_exit_openat'];
      } else if (setup === 'bpftrace') {
        cmd = 'bpftrace'; args = [bt]; hooks = ['sys_enter_execve'];
      } else {
        cmd = '/usr/sbin/execsnoop'; args = ['-n', 'igb']; hooks = ['sys_enter_execve', 'sys_exit_execve'];
      }
      consumer = start(setup, cmd, args, { stdout: o, stderr: e });
      closeSync(o); closeSync(e);
      await waitAttached(consumer, hooks, 120000);
      await sleep(300);
      await settled(consumer.pid);
    }
    const cpu0 = consumer ? processCpuSeconds(consumer.pid) ?? 0 : 0;
    const ns0 = consumer ? processCpuNs(consumer.pid) ?? 0 : 0;
    const rtid = consumer && (setup.startsWith('ig-') || setup.startsWith('base-')) ? readerThread(consumer.pid) : undefined;
    const reader0 = rtid !== undefined ? threadCpu(consumer!.pid, rtid) : null;
    writeFileSync(go, '');
    await waitExit(g, 600000);
    const kv = Object.fromEntries(g.lines.find((l) => l.startsWith('execs='))!.split(' ').map((p) => p.split('=') as [string, string]));
    const r: Result = { setup, run, execs: Number(kv.execs), execsPerS: Number(kv.execs_per_s), lost: 0 };
    if (consumer) {
      r.tickCpuS = await drainCpu(consumer.pid, cpu0);
      r.cpuS = ((processCpuNs(consumer.pid) ?? ns0) - ns0) / 1e9;
      const reader1 = rtid !== undefined ? threadCpu(consumer.pid, rtid) : null;
      if (reader0 && reader1) { r.readerS = (reader1.ns - reader0.ns) / 1e9; r.readerSwitches = reader1.switches - reader0.switches; }
      await stop(consumer, 'SIGINT', 20000);
      const errText = readFileSync(err, 'utf8');
      const c = countOutput(out, setup.endsWith('trace_open') ? TRUE_NAME : marker);
      r.events = c.events;
      r.lost = sumLost(errText) + c.lost;
      if (setup.startsWith('ig-') || setup.startsWith('base-')) {
        const counts = /(\d+) records rendered on the reader thread, (\d+) by JS/.exec(errText);
        const why = /rendered in JS \(([^\n]*)\)/.exec(errText)?.[1];
        const polls = /; (\d+) polls, /.exec(errText);
        r.native = counts ? `reader thread ${counts[1]}, JS ${counts[2]}${polls ? `, ${polls[1]} polls` : ''}` : `JS${why ? ` (${why.slice(0, 100)})` : ''}`;
      }
      rmSync(out, { force: true });
    }
    return r;
  }
}

/** Wait until the consumer has used at most one clock tick in each of 3 consecutive 200 ms windows (at most 10 s):
 * its start-up is over. */
async function settled(pid: number): Promise<void> {
  const tick = 1 / clockTicks();
  let last = processCpuSeconds(pid) ?? 0;
  for (let quiet = 0, k = 0; quiet < 3 && k < 50; k++) {
    await sleep(200);
    const c = processCpuSeconds(pid) ?? last;
    quiet = c - last > tick + 1e-9 ? 0 : quiet + 1;
    last = c;
  }
}

function report(rs: Result[], execs: number, runs: number, load0: number[]): void {
  const base = mean(rs.filter((r) => r.setup === 'baseline').map((r) => r.execsPerS));
  const perEvent = (s: Setup, ticks = false) => {
    const xs = rs.filter((r) => r.setup === s && r.cpuS !== undefined && r.events);
    return xs.length ? xs.reduce((a, r) => a + (ticks ? r.tickCpuS! : r.cpuS!), 0) * 1e6 / xs.reduce((a, r) => a + r.events!, 0) : NaN;
  };
  const perRun = (xs: Result[]) => xs.filter((r) => r.cpuS !== undefined && r.events).map((r) => fix((r.cpuS! * 1e6) / r.events!, 2)).join(' / ');
  const snoop = perEvent('execsnoop');
  const rows = SETUPS.filter((s) => rs.some((r) => r.setup === s)).map((s) => {
    const xs = rs.filter((r) => r.setup === s);
    const eps = mean(xs.map((r) => r.execsPerS));
    const ev = xs.every((r) => r.events !== undefined) ? xs.map((r) => int(r.events!)).join(' / ') : '-';
    const cpu = perEvent(s);
    const ticks = perEvent(s, true);
    const rd = xs.filter((r) => r.readerS !== undefined && r.events);
    const reader = rd.length ? `${fix(rd.reduce((a, r) => a + r.readerS!, 0) * 1e6 / rd.reduce((a, r) => a + r.events!, 0), 2)} (${rd.map((r) => r.readerSwitches).join(' / ')})` : '-';
    return [s, xs.map((r) => int(r.execsPerS)).join(' / '), base ? `${fix((eps / base) * 100, 1)}%` : '-', ev,
      int(xs.reduce((a, r) => a + r.lost, 0)), Number.isNaN(cpu) ? '-' : `${fix(cpu, 2)} (${perRun(xs)})`,
      Number.isNaN(cpu) || Number.isNaN(snoop) ? '-' : fix(cpu / snoop, 2),
      Number.isNaN(ticks) ? '-' : fix(ticks, 1), reader, xs.find((r) => r.native)?.native ?? ''];
  });
  const text = `### exec storm (${int(execs)} execs x ${runs} runs, load average ${load0.map((l) => fix(l, 1)).join(' ')} at start, ${cpus().length} CPUs)\n\n`
    + markdownTable(['setup', 'execs/s (runs)', 'vs baseline', 'events (runs)', 'lost', 'consumer CPU µs/event (runs)', 'vs execsnoop', 'µs/event in ticks', 'reader thread µs/event (wake-ups)', 'ig renderer'], rows);
  process.stdout.write(text + '\n');
  const json = arg('json', '');
  if (json) writeFileSync(json, JSON.stringify({ execs, runs, results: rs, loadavg: loadavg() }, null, 2) + '\n');
}

main().catch((e) => { process.stderr.write(`exec storm bench: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; });
