// Start-up and memory of `ig run trace_open` next to bpftrace (issue 16, item 4), in one command:
//   npm run bench:startup -- [--runs N] [--hold-ms MS] [--json PATH]
// A ticker (bench/loadgen.c `tick 10`, comm igb_tick, compiled here with gcc) opens a file every 10 ms. Each run
// spawns the tool with a comm filter and its stdout on a pipe and measures, alternating the tools:
// - first event: spawn → the first stdout line naming igb_tick (wall clock), and the process's CPU time by then
//   (/proc/PID/schedstat, which a busy machine distorts far less than the wall clock);
// - memory: after `--hold-ms` more of streaming, VmHWM (peak RSS) and how the resident set splits: anonymous
//   memory (V8 heap, malloc), the node binary's own pages, the ring buffer's pages mapped from the kernel (bpf-map),
//   and other files (libraries);
// - for ig, the start-up marks IG_TRACE_STARTUP=1 prints at exit (ms since the process started): main = every
//   module loaded, image = gadget image and metadata read, start → opened → loaded → attached = the eBPF object.
// When NODE_EXTRA_CA_CERTS is set (it makes node read and parse a CA bundle before any of ig's code runs), ig is also
// measured without it. Every child is stopped by PID; nothing else on the machine is touched.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, start, stop, waitLine } from './lib/child.js';
import { fix, markdownTable, median } from './lib/table.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TICK = 'igb_tick';
const BPFTRACE = [
  `tracepoint:syscalls:sys_enter_openat /comm == "${TICK}"/ { @fname[tid] = args->filename; }`,
  `tracepoint:syscalls:sys_exit_openat /comm == "${TICK}"/ { printf("%d %s %d %s\\n", pid, comm, args->ret, str(@fname[tid])); delete(@fname[tid]); }`,
].join('\n');
const MARKS = ['main', 'config', 'run', 'image', 'prepared', 'start', 'opened', 'loaded', 'attached'];

interface Sample { firstMs?: number; cpuMs?: number; hwmKb?: number; split?: Record<string, number>; marks?: Record<string, number>; error?: string }
interface Tool { name: string; cmd: string; args: string[]; env: NodeJS.ProcessEnv }

function options(argv: string[]): { runs: number; holdMs: number; json?: string } {
  const o = { runs: 7, holdMs: 1000, json: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--runs') o.runs = Number(val());
    else if (a === '--hold-ms') o.holdMs = Number(val());
    else if (a === '--json') o.json = val();
    else throw new Error(`unknown option ${a} (usage: npm run bench:startup -- [--runs N] [--hold-ms MS] [--json PATH])`);
  }
  if (!(o.runs >= 1) || !(o.holdMs >= 0)) throw new Error('--runs must be >= 1 and --hold-ms >= 0');
  return o;
}

/** Resident kB by kind of mapping, from /proc/PID/smaps. */
function residentSplit(pid: number): Record<string, number> {
  const out: Record<string, number> = { anon: 0, 'node binary': 0, 'ring (bpf-map)': 0, 'other files': 0 };
  let kind = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[1]!;
      kind = name === '' || name.startsWith('[') ? 'anon' : name.includes('bpf-map') ? 'ring (bpf-map)' : name === process.execPath || name.endsWith('/node') ? 'node binary' : 'other files';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r) out[kind]! += Number(r[1]);
  }
  return out;
}

async function measure(t: Tool, holdMs: number): Promise<Sample> {
  const t0 = performance.now();
  const c = start(t.name, t.cmd, t.args, { stdout: 'pipe', stderr: 'pipe', env: t.env });
  let err = '';
  c.proc.stderr?.setEncoding('utf8');
  c.proc.stderr?.on('data', (d: string) => { err += d; });
  const s: Sample = {};
  try {
    await waitLine(c, new RegExp(TICK), 30000);
    s.firstMs = performance.now() - t0;
    s.cpuMs = Number(readFileSync(`/proc/${c.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    await sleep(holdMs);
    s.hwmKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'))?.[1]);
    s.split = residentSplit(c.pid);
  } catch (e) {
    s.error = `${(e as Error).message}: ${err.slice(0, 300)}`;
  } finally {
    await stop(c, 'SIGINT', 20000);
  }
  const m = /startup: (.*)/.exec(err);
  if (m) s.marks = Object.fromEntries(m[1]!.split(', ').map((kv) => { const [k, v] = kv.split(' '); return [k!, Number(v)]; }));
  return s;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'ig-startup-bench-'));
  const loadgen = join(dir, 'loadgen');
  execFileSync('gcc', ['-O2', '-o', loadgen, join(ROOT, 'bench', 'loadgen.c')], { stdio: 'inherit' });
  const igMain = join(ROOT, 'dist', 'src', 'bundle', 'ig.mjs');
  const igArgs = [igMain, 'run', 'trace_open', '--host', '-o', 'json', '--comm', TICK];
  const env: NodeJS.ProcessEnv = { ...process.env, IG_TRACE_STARTUP: '1' };
  const tools: Tool[] = [{ name: 'ig', cmd: process.execPath, args: igArgs, env }];
  if (process.env.NODE_EXTRA_CA_CERTS) {
    const bare = { ...env };
    delete bare.NODE_EXTRA_CA_CERTS;
    tools.push({ name: 'ig, no NODE_EXTRA_CA_CERTS', cmd: process.execPath, args: igArgs, env: bare });
  }
  tools.push({ name: 'node -e (empty script, for scale)', cmd: process.execPath, args: ['-e', `console.log('${TICK}'); setInterval(() => {}, 1000)`], env: process.env });
  tools.push({ name: 'bpftrace', cmd: 'bpftrace', args: ['-e', BPFTRACE], env: { ...process.env, BPFTRACE_STRLEN: '200' } });
  const ticker = start('ticker', loadgen, ['tick', '10'], { stdout: 'pipe', stderr: 'inherit' });
  const results = new Map<string, Sample[]>(tools.map((t) => [t.name, []]));
  const loadStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  try {
    await waitLine(ticker, /^ready/, 10000);
    for (let r = 0; r < o.runs; r++) {
      for (const t of tools) {
        const s = await measure(t, o.holdMs);
        results.get(t.name)!.push(s);
        process.stderr.write(`  run ${r + 1}/${o.runs} ${t.name.padEnd(34)} ${s.error ?? `first ${fix(s.firstMs, 0)} ms, cpu ${fix(s.cpuMs, 0)} ms, hwm ${fix((s.hwmKb ?? 0) / 1024, 1)} MiB`}\n`);
        await sleep(300);
      }
    }
  } finally {
    await stop(ticker, 'SIGTERM', 5000);
    rmSync(dir, { recursive: true, force: true });
  }
  const loadEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const ok = (xs: Sample[]) => xs.filter((s) => s.error === undefined);
  const med = (xs: Sample[], f: (s: Sample) => number | undefined) => { const v = xs.map(f).filter((x): x is number => x !== undefined); return v.length ? median(v) : undefined; };
  const rows = tools.map((t) => {
    const xs = ok(results.get(t.name)!);
    const first = xs.map((s) => s.firstMs!);
    const split = (k: string) => fix((med(xs, (s) => s.split?.[k]) ?? 0) / 1024, 1);
    return [t.name, String(xs.length), fix(med(xs, (s) => s.firstMs), 0), first.length ? `${fix(Math.min(...first), 0)}-${fix(Math.max(...first), 0)}` : '-',
      fix(med(xs, (s) => s.cpuMs), 0), fix((med(xs, (s) => s.hwmKb) ?? 0) / 1024, 1), split('anon'), split('node binary'), split('ring (bpf-map)'), split('other files')];
  });
  let text = `Load average at start ${loadStart}, at end ${loadEnd} (2 CPUs; above ~1 the wall-clock figures are inflated, the CPU ones much less).\n\n`;
  text += markdownTable(['tool', 'runs', 'first event ms (median)', 'min-max', 'CPU ms to first event', 'peak RSS MiB', 'anon MiB', 'node binary MiB', 'ring MiB', 'other files MiB'], rows);
  const markRows = tools.filter((t) => t.name.startsWith('ig')).map((t) => {
    const xs = ok(results.get(t.name)!);
    return [t.name, ...MARKS.map((k) => fix(med(xs, (s) => s.marks?.[k]), 0))];
  });
  text += `\n\nig's start-up marks, median ms since the process started (IG_TRACE_STARTUP=1):\n\n${markdownTable(['run', ...MARKS], markRows)}`;
  process.stdout.write(`${text}\n`);
  const json = o.json ?? join(ROOT, 'bench', 'results', `startup-${new Date().toISOString().replace(/[:.]/g, '')}.json`);
  try {
    execFileSync('mkdir', ['-p', dirname(json)]);
    writeFileSync(json, `${JSON.stringify({ options: o, loadStart, loadEnd, results: Object.fromEntries(results) }, null, 2)}\n`);
    process.stdout.write(`results: ${json}\n`);
  } catch (e) {
    process.stderr.write(`cannot write ${json}: ${(e as Error).message}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`startup bench: ${(e as Error).message}\n`);
  process.exit(1);
});
