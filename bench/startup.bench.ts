// Start-up and memory of `ig run trace_open` next to bpftrace and opensnoop (issue 16, item 4), in one command:
//   npm run bench:startup -- [--runs N] [--hold-ms MS] [--json PATH] [--only REGEX (tool names)] [--compare-bundle DIR]
// A ticker (bench/loadgen.c `tick 10`, comm igb_tick, compiled here with gcc) opens a file every 10 ms. Each run
// spawns the tool with a comm filter and its stdout on a pipe and measures, alternating the tools:
// - first event: spawn → the first stdout line naming igb_tick (wall clock), and the process's CPU time by then
//   (/proc/PID/schedstat, which a busy machine distorts far less than the wall clock);
// - memory: after `--hold-ms` more of streaming, VmHWM (peak RSS) and how the resident set splits: anonymous
//   memory (V8 heap, malloc), the node binary's own pages, the ring buffer's pages mapped from the kernel (bpf-map),
//   and other files (libraries);
// - for ig, the start-up marks IG_TRACE_STARTUP=1 prints at exit (ms since the process started): cache-<state> =
//   the bundle compiled (with V8's code cache when `hit`), main = every module loaded, image = gadget image and
//   metadata read, start → opened → loaded → attached = the eBPF object.
// ig is measured as users start it (bin/ig: the launcher, then the code-cached bundle), as that bundle started
// directly, and as the ESM bundle without a code cache (the previous way, for comparison); when NODE_EXTRA_CA_CERTS
// is set (it makes node read and parse a CA bundle before any of ig's code runs), the bundle also without it. Each
// ig variant runs once unmeasured first (it writes its code cache). Every child is stopped by PID; nothing else on
// the machine is touched.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, start, stop, waitLine } from './lib/child.js';
import { fix, markdownTable, median } from './lib/table.js';
import { memoryRollup } from './lib/smaps.js';
import { parseStartupMemory, parseStatus, type ResidentAt } from '../src/cli/startup-memory.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TICK = 'igb_tick';
const BPFTRACE = [
  `tracepoint:syscalls:sys_enter_openat /comm == "${TICK}"/ { @fname[tid] = args->filename; }`,
  `tracepoint:syscalls:sys_exit_openat /comm == "${TICK}"/ { printf("%d %s %d %s\\n", pid, comm, args->ret, str(@fname[tid])); delete(@fname[tid]); }`,
].join('\n');
const MARKS = ['cache', 'main', 'config', 'run', 'image', 'prepared', 'start', 'opened', 'loaded', 'attached'];

interface Sample { firstMs?: number; cpuMs?: number; hwmKb?: number; split?: Record<string, number>; marks?: Record<string, number>; cpuMarks?: Record<string, number>; memMarks?: Record<string, ResidentAt>; firstMem?: ResidentAt; firstUssKb?: number; holdMem?: ResidentAt; holdUssKb?: number; cache?: string; error?: string }
interface Tool { name: string; cmd: string; args: string[]; env: NodeJS.ProcessEnv; ig?: boolean }

function options(argv: string[]): { runs: number; holdMs: number; json?: string; only?: RegExp; compare: string[] } {
  const o = { runs: 7, holdMs: 1000, json: undefined as string | undefined, only: undefined as RegExp | undefined, compare: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--runs') o.runs = Number(val());
    else if (a === '--hold-ms') o.holdMs = Number(val());
    else if (a === '--json') o.json = val();
    else if (a === '--only') o.only = new RegExp(val(), 'i');
    // another build's bundle directory (e.g. the previous commit's dist/src/bundle copied beside this one), measured
    // as `node DIR/ig-start.cjs` next to this build's in the same run: an A/B on a busy machine
    else if (a === '--compare-bundle') o.compare.push(val());
    else throw new Error(`unknown option ${a} (usage: npm run bench:startup -- [--runs N] [--hold-ms MS] [--json PATH] [--only REGEX] [--compare-bundle DIR]...)`);
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
    // the resident set at the first event, and USS (smaps_rollup: private pages; the shared page-cache pages of
    // node's binary count in RSS, not here)
    s.firstMem = parseStatus(readFileSync(`/proc/${c.pid}/status`, 'latin1'));
    s.firstUssKb = memoryRollup(c.pid)?.ussKb;
    await sleep(holdMs);
    s.holdMem = parseStatus(readFileSync(`/proc/${c.pid}/status`, 'latin1'));
    s.holdUssKb = memoryRollup(c.pid)?.ussKb;
    s.hwmKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'))?.[1]);
    s.split = residentSplit(c.pid);
  } catch (e) {
    s.error = `${(e as Error).message}: ${err.slice(0, 300)}`;
  } finally {
    await stop(c, 'SIGINT', 20000);
  }
  const m = /startup: (.*)/.exec(err);
  if (m) {
    s.marks = Object.fromEntries(m[1]!.split(', ').map((kv) => { const [k, v] = kv.split(' '); return [k!, Number(v)]; }));
    // cache-<state>: when the bundle was compiled, and whether V8's code cache was used
    for (const k of Object.keys(s.marks)) if (k.startsWith('cache-')) { s.cache = k.slice(6); s.marks['cache'] = s.marks[k]!; }
  }
  // the process's CPU time at main and at each later mark
  const cm = /startup-cpu: (.*)/.exec(err);
  if (cm) s.cpuMarks = Object.fromEntries(cm[1]!.split(', ').map((kv) => { const [k, v] = kv.split(' '); return [k!, Number(v)]; }));
  // the resident set at each mark (src/cli/startup-memory.ts)
  const mm = /startup-memory: (.*)/.exec(err);
  if (mm) s.memMarks = parseStartupMemory(mm[1]!);
  return s;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'ig-startup-bench-'));
  const loadgen = join(dir, 'loadgen');
  execFileSync('gcc', ['-O2', '-o', loadgen, join(ROOT, 'bench', 'loadgen.c')], { stdio: 'inherit' });
  const bundle = join(ROOT, 'dist', 'src', 'bundle');
  const igArgs = ['run', 'trace_open', '--host', '-o', 'json', '--comm', TICK];
  const env: NodeJS.ProcessEnv = { ...process.env, IG_TRACE_STARTUP: '1' };
  const bare = { ...env };
  delete bare.NODE_EXTRA_CA_CERTS;
  const tools: Tool[] = [
    // IG_NO_SETUP=1: a stale build is refused in one line rather than rebuilt inside a measurement
    { name: 'ig (bin/ig, as users start it)', cmd: join(ROOT, 'bin', 'ig'), args: igArgs, env: { ...env, IG_NO_SETUP: '1' }, ig: true },
    { name: 'ig bundle + code cache', cmd: process.execPath, args: [join(bundle, 'ig-start.cjs'), ...igArgs], env, ig: true },
    ...o.compare.map((d) => ({ name: `ig bundle + code cache, ${d}`, cmd: process.execPath, args: [join(d, 'ig-start.cjs'), ...igArgs], env: { ...env, IG_CODE_CACHE_DIR: join(d, 'code-cache') }, ig: true })),
  ];
  if (process.env.NODE_EXTRA_CA_CERTS) {
    tools.push({ name: 'ig bundle + code cache, no NODE_EXTRA_CA_CERTS', cmd: process.execPath, args: [join(bundle, 'ig-start.cjs'), ...igArgs], env: bare, ig: true });
  }
  tools.push({ name: 'ig ESM bundle, no code cache (before)', cmd: process.execPath, args: [join(bundle, 'ig.mjs'), ...igArgs], env, ig: true });
  tools.push({ name: 'node -e (empty script, for scale)', cmd: process.execPath, args: ['-e', `console.log('${TICK}'); setInterval(() => {}, 1000)`], env: process.env });
  tools.push({ name: 'bpftrace', cmd: 'bpftrace', args: ['-e', BPFTRACE], env: { ...process.env, BPFTRACE_STRLEN: '200' } });
  // libbpf-tools' opensnoop; stdbuf: its stdout is a pipe here, which libc would buffer by 4 KiB
  const opensnoop = ['/usr/sbin/opensnoop', '/usr/bin/opensnoop'].find((p) => existsSync(p));
  if (opensnoop) tools.push({ name: 'opensnoop (libbpf-tools)', cmd: 'stdbuf', args: ['-oL', opensnoop, '-n', TICK], env: process.env });
  // --only REGEX: the tools whose names match (a quick look at a few; the published figures run them all)
  if (o.only) { const only = o.only; tools.splice(0, tools.length, ...tools.filter((t) => only.test(t.name))); }
  const ticker = start('ticker', loadgen, ['tick', '10'], { stdout: 'pipe', stderr: 'inherit' });
  const results = new Map<string, Sample[]>(tools.map((t) => [t.name, []]));
  const loadStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  try {
    await waitLine(ticker, /^ready/, 10000);
    for (const t of tools.filter((x) => x.ig)) {
      // unmeasured: writes this variant's code cache, and lives 2 s so that bpftool can make the minimized kernel BTF of
      // an object new to the store (runtime/core-btf-store.ts: a process that exits sooner stops it)
      const w = await measure(t, 2000);
      process.stderr.write(`  warm-up ${t.name.padEnd(46)} ${w.error ?? `cache ${w.cache ?? '-'}`}\n`);
    }
    for (let r = 0; r < o.runs; r++) {
      for (const t of tools) {
        const s = await measure(t, o.holdMs);
        results.get(t.name)!.push(s);
        process.stderr.write(`  run ${r + 1}/${o.runs} ${t.name.padEnd(46)} ${s.error ?? `first ${fix(s.firstMs, 0)} ms, cpu ${fix(s.cpuMs, 0)} ms, hwm ${fix((s.hwmKb ?? 0) / 1024, 1)} MiB${s.cache ? `, cache ${s.cache}` : ''}`}\n`);
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
  const markRows = tools.filter((t) => t.ig).map((t) => {
    const xs = ok(results.get(t.name)!);
    const states = [...new Set(xs.map((s) => s.cache ?? 'none'))].join('/');
    return [t.name, states, ...MARKS.map((k) => fix(med(xs, (s) => s.marks?.[k]), 0))];
  });
  text += `\n\nig's start-up marks, median ms since the process started (IG_TRACE_STARTUP=1; cache = when the bundle was compiled):\n\n${markdownTable(['run', 'code cache', ...MARKS], markRows)}`;
  const cpuMarks = MARKS.filter((k) => k !== 'cache');
  const cpuRows = tools.filter((t) => t.ig).map((t) => [t.name, ...cpuMarks.map((k) => fix(med(ok(results.get(t.name)!), (s) => s.cpuMarks?.[k]), 0)), fix(med(ok(results.get(t.name)!), (s) => s.cpuMs), 0)]);
  text += `\n\nCPU time the process had used at each mark, median ms (the wall clock between marks is mostly waiting for a core on a busy machine):\n\n${markdownTable(['run', ...cpuMarks, 'first event'], cpuRows)}`;
  // Memory per phase: VmRSS (RssAnon + RssFile) at each mark, at the first event and after the hold, median MiB.
  const MEM_MARKS = ['main', 'image', 'start', 'loaded', 'attached'];
  const memRows: string[][] = [];
  for (const t of tools.filter((x) => x.ig)) {
    const xs = ok(results.get(t.name)!);
    const cell = (f: (s: Sample) => ResidentAt | undefined) => {
      const m = (g: (r: ResidentAt) => number) => fix((med(xs, (s) => { const r = f(s); return r ? g(r) : undefined; }) ?? NaN) / 1024, 1);
      return `${m((r) => r.rssKb)} (${m((r) => r.anonKb)} + ${m((r) => r.fileKb)})`;
    };
    memRows.push([t.name, ...MEM_MARKS.map((k) => cell((s) => s.memMarks?.[k])), cell((s) => s.firstMem), fix((med(xs, (s) => s.firstUssKb) ?? NaN) / 1024, 1),
      cell((s) => s.holdMem), fix((med(xs, (s) => s.holdUssKb) ?? NaN) / 1024, 1), fix((med(xs, (s) => s.hwmKb) ?? NaN) / 1024, 1)]);
  }
  text += `\n\nig's resident set per phase, median MiB: VmRSS (RssAnon + RssFile; RssFile holds node's binary, the libraries and the mmapped ring and maps); USS = private pages (smaps_rollup); VmHWM = peak RSS of the whole run:\n\n${markdownTable(['run', ...MEM_MARKS, 'first event', 'USS at first event', `after ${o.holdMs} ms more`, 'USS then', 'VmHWM'], memRows)}`;
  // Ratios within this run (the machine's load moves every absolute figure; these move much less).
  const first = (name: string) => med(ok(results.get(name) ?? []), (s) => s.firstMs);
  const cpu = (name: string) => med(ok(results.get(name) ?? []), (s) => s.cpuMs);
  const peers = tools.filter((t) => !t.ig).map((t) => t.name);
  const ratioRows = tools.filter((t) => t.ig).map((t) => [t.name, ...peers.flatMap((p) => [fix((first(t.name) ?? NaN) / (first(p) ?? NaN), 2), fix((cpu(t.name) ?? NaN) / (cpu(p) ?? NaN), 2)])]);
  text += `\n\nRatios of medians, same run (first event wall / CPU to it):\n\n${markdownTable(['ig', ...peers.flatMap((p) => [`÷ ${p} wall`, `÷ ${p} CPU`])], ratioRows)}`;
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
