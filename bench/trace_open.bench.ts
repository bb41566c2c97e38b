// trace_open benchmark (issue 2 item 10): what does tracing open() cost, with ig and with its peers?
//
//   npm run bench -- [--opens N] [--runs R] [--latency-runs L] [--setups a,b,...] [--json PATH] [--settle-ms MS] [--fail-fast] [--no-snapshot] [--memory] [--node-flags "FLAGS"] [--bundle] [--ig-args "ARGS"]
//
// One process drives the same open() storm (bench/loadgen.c, compiled here with gcc into a temp dir) under
// several setups, runs interleaved (setup A run 1, setup B run 1, ..., setup A run 2, ...):
//   baseline    no tracer
//   floor-produce  trace_open's programs attached through the addon, targ_pid set, every event produced into ig's
//               8 MiB ring, which a native thread advances without reading the records: the kernel-side floor
//               that the "workload vs floor" target is measured against
//   floor       the same programs with no reader at all (the ring fills; from then on BPF only counts drops)
//   floor-read  same plus a native ring reader (ig's ring size and options) whose JS callback only counts records
//   ig          ig run trace_open --host -o json --pid P, stdout to a /dev/shm file (lines counted afterwards)
//   ig-null     same with stdout to /dev/null (not counted; lost from ig's warnings)
//   bpftrace    sys_enter_openat stores the filename pointer, sys_exit_openat prints pid comm ret fname
//   opensnoop   libbpf-tools opensnoop -p P
// and, only when named in --setups (investigation): floor-read-256k (reader on the gadget's own 256 KiB ring),
// ig-ustack / ig-ustack-null (-o json --collect-ustack: a user stack per event, its text a render-plan memo),
// ig-none (ig -o none: the records are dropped on the reader thread, none reaches JS), and the WASM operator's cost
// (issue 12): ig-wasm-none / ig-wasm, the same runs of a trace_open image carrying bench/wasm/storm.c (C SDK: reads
// two fields, sets one, per event), built at start; its extra CPU over ig-none is the module's and the JS batch
// path's together (since 70b4dc6; before, ig-none handed every batch to JS too).
// Per run: the load generator's opens/s; the consumer's utime+stime over the load window only (sampled just
// before the go-file is created and after the output has drained); events captured (lines with the generator's
// comm in the output file) and lost (the tools' "lost N events" notices); peak RSS (VmHWM) at the end.
// --memory: the consumer's resident set by mapping at its largest sample of the load window (/proc/PID/smaps,
// bench/lib/smaps.ts), the peaks of its PSS, USS and anonymous memory over the window (smaps_rollup) and ig's own heap figures at its largest resident set (IG_TRACE_MEMORY=1), in one more table.
// --node-flags: node/V8 flags for every ig consumer (what bin/ig's node_flags pass; the bench starts node itself).
// --bundle: start ig as bin/ig does (dist/src/bundle/ig-start.cjs, the code-cached bundle) instead of its compiled modules.
// Then the start-up latency: with a ticker (open every 10 ms, comm igb_tick) running, the time from spawning
// the tracer to the first event line on its stdout pipe.
// Results: Markdown tables on stdout, JSON in bench/results/trace_open-<date>.json.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachedTracepoints, foreignTracers, loadedPrograms, programOwners, programsHeldBy, sleep, spawnedPids, start, stop, stopAll, waitAttached, waitExit, waitLine, type Child } from './lib/child.js';
import { countOutput, lostInFile } from './lib/count.js';
import { allProcessCpu, clockTicks, onlineCpuCount, processCpuSeconds, statusKb, systemCpu, topCpuUsers } from './lib/proc.js';
import { fix, int, markdownTable, mean, median } from './lib/table.js';
import { PeakRssSampler, type RssSplit } from './lib/smaps.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Relative to an ig tree (the repository, or the bench's private snapshot of its build).
const IG_MAIN_REL = join('dist', 'src', 'cli', 'main.js');
const IG_BUNDLE_REL = join('dist', 'src', 'bundle', 'ig-start.cjs');
const FLOOR_JS_REL = join('dist', 'bench', 'lib', 'floor.js');
const LOADGEN_C = join(ROOT, 'bench', 'loadgen.c');
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const GEN_COMM = 'igb_storm';
/** Ring size ig gives tracer rings (MIN_RING_BYTES in src/operators/ebpf/operator.ts); floor-read uses the same. */
const IG_RING_BYTES = 8 << 20;
/** How long ig's rendering reader sleeps after a poll (src/operators/ebpf/operator.ts); floor-produce wakes as often. */
const IG_RENDER_LINGER_US = 4000;
const TICK_COMM = 'igb_tick';
const OPEN_TPS = ['sys_enter_openat', 'sys_exit_openat'];

/**
 * The other output paths of issue 16 (filters, -E, columns), each to a /dev/shm file (lines counted) and to
 * /dev/null; the *-js setups run the same with IG_NATIVE_RENDER=0 (the JS pipeline: the figures before the native
 * plan covered them).
 */
const PATHS = {
  'ig-filter': { args: ['-o', 'json', '--filter', `proc.comm==${'igb_storm'}`], file: true, js: false, label: 'ig -o json --filter proc.comm==igb_storm > /dev/shm file' },
  'ig-filter-null': { args: ['-o', 'json', '--filter', 'proc.comm==igb_storm'], file: false, js: false, label: 'ig -o json --filter proc.comm==igb_storm > /dev/null' },
  'ig-filter-js-null': { args: ['-o', 'json', '--filter', 'proc.comm==igb_storm'], file: false, js: true, label: 'same, JS pipeline (IG_NATIVE_RENDER=0) > /dev/null' },
  'ig-expr': { args: ['-o', 'json', '-E', "proc.comm in ['igb_storm', 'cat'] and fname startsWith '/etc/' and error != 'EPERM'"], file: true, js: false, label: 'ig -o json -E "comm in [..] and fname startsWith .. and error != .." > /dev/shm file' },
  'ig-expr-null': { args: ['-o', 'json', '-E', "proc.comm in ['igb_storm', 'cat'] and fname startsWith '/etc/' and error != 'EPERM'"], file: false, js: false, label: 'ig -o json -E "..." > /dev/null' },
  'ig-columns': { args: ['-o', 'columns'], file: true, js: false, label: 'ig -o columns > /dev/shm file' },
  'ig-columns-null': { args: ['-o', 'columns'], file: false, js: false, label: 'ig -o columns > /dev/null' },
  'ig-ustack': { args: ['-o', 'json', '--collect-ustack'], file: true, js: false, label: 'ig -o json --collect-ustack > /dev/shm file' },
  'ig-ustack-null': { args: ['-o', 'json', '--collect-ustack'], file: false, js: false, label: 'ig -o json --collect-ustack > /dev/null' },
  'ig-columns-js-null': { args: ['-o', 'columns'], file: false, js: true, label: 'ig -o columns, JS pipeline (IG_NATIVE_RENDER=0) > /dev/null' },
  // Issue 18: recording the storm (bench/record.bench.ts --storm runs these).
  'ig-record-none': { args: ['-o', 'none', '--record', '/dev/shm/igb_record_none.igrec'], file: false, js: false, label: 'ig -o none --record /dev/shm file' },
  'ig-record': { args: ['-o', 'json', '--record', '/dev/shm/igb_record.igrec'], file: true, js: false, label: 'ig -o json > /dev/shm file, --record /dev/shm file' },
  // Issue 16, memory: ig keeping its start-up pages resident (src/cli/resident-set.ts off), beside ig-null / ig-none.
  'ig-null-keep': { args: ['-o', 'json'], file: false, js: false, env: { IG_DROP_CLEAN_PAGES: 'off' }, label: 'ig -o json > /dev/null, clean pages kept (IG_DROP_CLEAN_PAGES=off)' },
  'ig-none-keep': { args: ['-o', 'none'], file: false, js: false, env: { IG_DROP_CLEAN_PAGES: 'off' }, label: 'ig -o none, clean pages kept (IG_DROP_CLEAN_PAGES=off)' },
  // V8's young generation at 1 MiB per semi-space (NODE_OPTIONS accepts the flag; a code cache of its own, as bin/ig keeps one per flag set).
  'ig-null-semi1': { args: ['-o', 'json'], file: false, js: false, env: { NODE_OPTIONS: '--max-semi-space-size=1', IG_CODE_CACHE_DIR: '/tmp/igb-code-cache-semi1' }, label: 'ig -o json > /dev/null, --max-semi-space-size=1' },
  'ig-none-semi1': { args: ['-o', 'none'], file: false, js: false, env: { NODE_OPTIONS: '--max-semi-space-size=1', IG_CODE_CACHE_DIR: '/tmp/igb-code-cache-semi1' }, label: 'ig -o none, --max-semi-space-size=1' },
} as const satisfies Record<string, { args: readonly string[]; file: boolean; js: boolean; label: string; env?: Record<string, string> }>;
type PathId = keyof typeof PATHS;
const PATH_SETUPS = Object.keys(PATHS) as PathId[];
const isPath = (s: string): s is PathId => s in PATHS;

type SetupId = 'baseline' | 'floor-produce' | 'floor' | 'floor-read' | 'floor-read-256k' | 'ig' | 'ig-null' | 'ig-none' | 'ig-wasm' | 'ig-wasm-none' | 'bpftrace' | 'opensnoop' | PathId;
const ALL_SETUPS: SetupId[] = ['baseline', 'floor-produce', 'floor', 'floor-read', 'floor-read-256k', 'ig', 'ig-null', 'ig-none', 'ig-wasm', 'ig-wasm-none', 'bpftrace', 'opensnoop', ...PATH_SETUPS];
const WASM_SETUPS: SetupId[] = ['ig-wasm', 'ig-wasm-none'];
const WASM_IMAGE = 'trace_open_wasm_bench';
/** Run by default; the others are for investigation (--setups). */
const DEFAULT_SETUPS: SetupId[] = ['baseline', 'floor-produce', 'floor', 'floor-read', 'ig', 'ig-null', 'ig-filter', 'ig-filter-null', 'ig-expr-null', 'ig-columns', 'ig-columns-null', 'bpftrace', 'opensnoop'];
const FLOOR_SETUPS: SetupId[] = ['floor-produce', 'floor', 'floor-read', 'floor-read-256k'];
const LABEL: Record<SetupId, string> = {
  baseline: 'no tracer',
  'floor-produce': 'floor: every event produced, ring advanced unread',
  floor: 'floor with drops (attached, no reader)',
  'floor-read': 'floor + native reader (8 MiB ring), count only',
  'floor-read-256k': 'floor + native reader (256 KiB ring), count only',
  ig: 'ig -o json > /dev/shm file',
  'ig-null': 'ig -o json > /dev/null',
  'ig-none': 'ig -o none',
  'ig-wasm': 'ig + WASM module -o json > /dev/shm file',
  'ig-wasm-none': 'ig + WASM module -o none',
  bpftrace: 'bpftrace > /dev/shm file',
  opensnoop: 'opensnoop -p > /dev/shm file',
  ...Object.fromEntries(PATH_SETUPS.map((p) => [p, PATHS[p].label])) as Record<PathId, string>,
};

const BPFTRACE_SCRIPT = [
  'tracepoint:syscalls:sys_enter_openat /pid == $1/ { @fname[tid] = args->filename; }',
  'tracepoint:syscalls:sys_exit_openat /pid == $1/ { printf("%d %s %d %s\\n", pid, comm, args->ret, str(@fname[tid])); delete(@fname[tid]); }',
].join('\n');
const BPFTRACE_TICK_SCRIPT = [
  `tracepoint:syscalls:sys_enter_openat /comm == "${TICK_COMM}"/ { @fname[tid] = args->filename; }`,
  `tracepoint:syscalls:sys_exit_openat /comm == "${TICK_COMM}"/ { printf("%d %s %d %s\\n", pid, comm, args->ret, str(@fname[tid])); delete(@fname[tid]); }`,
].join('\n');

interface Options { opens: number; runs: number; latencyRuns: number; setups: SetupId[]; json?: string; failFast: boolean; snapshot: boolean; settleMs: number; memory: boolean; nodeFlags: string[]; bundle: boolean; igArgs: string[] }

function parseArgs(argv: string[]): Options {
  const o: Options = { opens: 2_000_000, runs: 2, latencyRuns: 3, setups: [...DEFAULT_SETUPS], failFast: false, snapshot: true, settleMs: 500, memory: false, nodeFlags: [], bundle: false, igArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    const posInt = (v: string) => { const n = Number(v); if (!Number.isInteger(n) || n < 0) throw new Error(`${a}: expected a non-negative integer, got ${v}`); return n; };
    switch (a) {
      case '--opens': o.opens = posInt(val()); break;
      case '--runs': o.runs = posInt(val()); break;
      case '--latency-runs': o.latencyRuns = posInt(val()); break;
      case '--setups': {
        const list = val().split(',').map((s) => s.trim()).filter(Boolean);
        for (const s of list) if (!ALL_SETUPS.includes(s as SetupId)) throw new Error(`--setups: unknown setup ${s} (known: ${ALL_SETUPS.join(', ')})`);
        o.setups = list as SetupId[];
        break;
      }
      case '--json': o.json = val(); break;
      case '--settle-ms': o.settleMs = posInt(val()); break;
      case '--fail-fast': o.failFast = true; break;
      case '--no-snapshot': o.snapshot = false; break;
      case '--memory': o.memory = true; break;
      case '--bundle': o.bundle = true; break;
      case '--node-flags': o.nodeFlags = val().split(/\s+/).filter(Boolean); break;
      // e.g. --ig-args "--annotate open:ebpf.ring.min-size=4194304": appended to every ig setup's `ig run`
      case '--ig-args': o.igArgs = val().split(/\s+/).filter(Boolean); break;
      case '-h': case '--help':
        process.stdout.write(`usage: npm run bench -- [--opens N] [--runs R] [--latency-runs L] [--setups ${ALL_SETUPS.join(',')}] [--json PATH] [--settle-ms MS] [--fail-fast] [--no-snapshot] [--memory] [--node-flags "FLAGS"] [--bundle] [--ig-args "ARGS"]\n`);
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a} (try --help)`);
    }
  }
  if (o.opens < 1) throw new Error('--opens must be at least 1');
  return o;
}

interface RunResult {
  setup: SetupId;
  run: number;
  generated: number;
  opensPerS: number;
  genSeconds: number;
  genCpuS: number;
  consumerPid?: number;
  /** consumer CPU over the load window: the process CPU clock (precise) */
  consumerCpuS?: number;
  /** the same from utime+stime (tick samples), for comparison */
  consumerTickCpuS?: number;
  /** Events delivered to the consumer's output (counted), or records read (floor-read). */
  events?: number;
  lost?: number;
  /** floor: events the BPF side dropped because nobody reads (by design). */
  dropped?: number;
  hwmKb?: number;
  outputBytes?: number;
  windowS: number;
  drainS?: number;
  sysBusyS: number;
  otherCpuS: number;
  loadAvg1: number;
  /** Processes not started by the bench that had programs on sys_enter/exit_openat when the load started. */
  foreignTracers: { pid: number; comm: string }[];
  /** Other processes that used >= 0.2 CPU-s during the window (noise), most first. */
  otherProcesses: { pid: number; comm: string; cpuS: number }[];
  notes: string[];
  /** WASM setups: compile + instantiate + gadgetInit, as the operator reports it. */
  wasmStartMs?: number;
  /** --memory: the consumer's resident set by mapping at its largest sample (after the settle to the end of the drain). */
  rssPeak?: RssSplit;
  /** --memory, ig setups: ig's own figures at its largest resident set (IG_TRACE_MEMORY), MiB. */
  igMemory?: Record<string, unknown>;
}

interface LatencyResult { tool: string; ms: number[]; errors: string[] }

class Bench {
  readonly work: string;      // /dev/shm scratch dir
  readonly tmp: string;       // temp dir with the load generator binary
  readonly loadgen: string;
  readonly opensnoop: string | undefined;
  readonly have: Record<string, boolean>;

  readonly igRoot: string;    // the ig tree the consumers run from
  readonly igMain: string;
  readonly floorJs: string;

  constructor(readonly o: Options) {
    this.tmp = mkdtempSync(join(tmpdir(), 'igbench-'));
    // Others may rebuild dist/ while the bench runs; a private copy of the build keeps every run on the same code.
    this.igRoot = o.snapshot ? snapshotBuild(join(this.tmp, 'ig')) : ROOT;
    this.igMain = join(this.igRoot, o.bundle ? IG_BUNDLE_REL : IG_MAIN_REL);
    this.floorJs = join(this.igRoot, FLOOR_JS_REL);
    this.loadgen = join(this.tmp, 'loadgen');
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', this.loadgen, LOADGEN_C], { stdio: 'inherit' });
    this.work = join('/dev/shm', `igbench-${process.pid}`);
    mkdirSync(this.work, { recursive: true });
    this.opensnoop = ['/usr/sbin/opensnoop', '/usr/bin/opensnoop'].find((p) => existsSync(p));
    const which = (cmd: string) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; } };
    this.have = { bpftrace: which('bpftrace'), opensnoop: this.opensnoop !== undefined, bpftool: which('bpftool'), stdbuf: which('stdbuf') };
    if (o.setups.some((s) => WASM_SETUPS.includes(s))) this.buildWasmImage();
  }

  /** trace_open plus bench/wasm/storm.c, built by ig image build into a store of the bench's own. */
  get wasmEnv(): NodeJS.ProcessEnv { return { ...process.env, IG_OCI_STORE: join(this.tmp, 'store'), IG_SOURCE_PATH: ROOT }; }
  private buildWasmImage(): void {
    const dir = join(this.tmp, 'wasm-gadget');
    mkdirSync(dir, { recursive: true });
    for (const f of ['program.bpf.c', 'gadget.yaml']) cpSync(join(ROOT, 'gadgets', 'trace_open', f), join(dir, f));
    cpSync(join(ROOT, 'bench', 'wasm', 'storm.c'), join(dir, 'storm.c'));
    writeFileSync(join(dir, 'build.yaml'), 'wasm: storm.c\n');
    execFileSync(process.execPath, [this.igMain, 'image', 'build', dir, '-t', WASM_IMAGE], { env: this.wasmEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  }

  cleanup(): void {
    rmSync(this.work, { recursive: true, force: true });
    rmSync(this.tmp, { recursive: true, force: true });
  }

  private file(name: string): string { return join(this.work, name); }

  private rm(...paths: string[]): void { for (const p of paths) rmSync(p, { force: true }); }

  /** One run of one setup. */
  /** Precise CPU seconds of a whole process (loadgen cpuclock: clock_getcpuclockid), NaN if it is gone. */
  cpuClockSeconds(pid: number): number {
    try {
      const ns = Number(execFileSync(this.loadgen, ['cpuclock', String(pid)], { encoding: 'utf8' }).trim());
      return ns >= 0 ? ns / 1e9 : NaN;
    } catch { return NaN; }
  }

  async runOne(setup: SetupId, run: number): Promise<RunResult> {
    const o = this.o;
    const tag = `${setup}-${run}`;
    const goFile = this.file(`go-${tag}`);
    const outFile = this.file(`${tag}.out`);
    const errFile = this.file(`${tag}.err`);
    this.rm(goFile, outFile, errFile);
    const notes: string[] = [];

    const gen = start(`loadgen(${tag})`, this.loadgen, ['storm', String(o.opens), goFile], { stdout: 'pipe', stderr: 'inherit' });
    let consumer: Child | undefined;
    try {
      await waitLine(gen, /^ready/, 10000);

      // Start the consumer, filtered on the generator's PID, and wait until it is attached. A consumer that dies
      // before attaching is started again (up to 3 attempts): loading can fail transiently on a busy machine
      // (e.g. EAGAIN from the verifier when a signal arrives during verification).
      const outFd = () => openSync(outFile, 'w');
      const errFd = () => openSync(errFile, 'w');
      const pid = String(gen.pid);
      for (let attempt = 1; ; attempt++) {
        try {
          switch (setup) {
            case 'baseline': break;
            case 'floor-produce': case 'floor': case 'floor-read': case 'floor-read-256k': {
              const e = errFd();
              // floor-read: the ring size ig uses (its 8 MiB minimum); floor-read-256k: the size the gadget declares.
              const extra = setup === 'floor-read' ? ['--read', '--ring-bytes', String(IG_RING_BYTES)] : setup === 'floor-read-256k' ? ['--read']
                : setup === 'floor-produce' ? ['--discard', '--ring-bytes', String(IG_RING_BYTES), '--linger-us', String(IG_RENDER_LINGER_US)] : [];
              consumer = start(setup, process.execPath, [this.floorJs, '--pid', pid, ...extra], { stdout: 'pipe', stderr: e });
              closeSync(e);
              await waitLine(consumer, /^ready/, 60000);
              break;
            }
            case 'ig': case 'ig-null': case 'ig-none': case 'ig-wasm': case 'ig-wasm-none': {
              const out = setup === 'ig' || setup === 'ig-wasm' ? outFd() : openSync('/dev/null', 'w');
              const e = errFd();
              const wasm = WASM_SETUPS.includes(setup);
              // -v for the WASM runs: the operator reports its module start time at debug level.
              consumer = start(setup, process.execPath, [...o.nodeFlags, this.igMain, 'run', wasm ? WASM_IMAGE : 'trace_open', '--host', '-o', setup === 'ig-none' || setup === 'ig-wasm-none' ? 'none' : 'json', '--pid', pid, ...(wasm ? ['-v'] : []), ...o.igArgs],
                { stdout: out, stderr: e, env: wasm ? this.wasmEnv : process.env });
              closeSync(out); closeSync(e);
              await waitAttached(consumer, OPEN_TPS, 60000);
              break;
            }
            case 'ig-filter': case 'ig-filter-null': case 'ig-filter-js-null': case 'ig-expr': case 'ig-expr-null':
            case 'ig-columns': case 'ig-columns-null': case 'ig-columns-js-null': case 'ig-ustack': case 'ig-ustack-null': case 'ig-record-none': case 'ig-record':
            case 'ig-null-keep': case 'ig-none-keep': case 'ig-null-semi1': case 'ig-none-semi1': {
              const path: { args: readonly string[]; file: boolean; js: boolean; env?: Record<string, string> } = PATHS[setup];
              const out = path.file ? outFd() : openSync('/dev/null', 'w');
              const e = errFd();
              consumer = start(setup, process.execPath, [...o.nodeFlags, this.igMain, 'run', 'trace_open', '--host', ...path.args, '--pid', pid, '-v', ...o.igArgs],
                { stdout: out, stderr: e, env: { ...process.env, ...(path.js ? { IG_NATIVE_RENDER: '0' } : {}), ...path.env } });
              closeSync(out); closeSync(e);
              await waitAttached(consumer, OPEN_TPS, 60000);
              break;
            }
            case 'bpftrace': {
              const out = outFd(); const e = errFd();
              consumer = start(setup, 'bpftrace', ['-e', BPFTRACE_SCRIPT, pid], { stdout: out, stderr: e, env: { ...process.env, BPFTRACE_STRLEN: '200' } });
              closeSync(out); closeSync(e);
              await waitAttached(consumer, OPEN_TPS, 60000);
              break;
            }
            case 'opensnoop': {
              const out = outFd(); const e = errFd();
              consumer = start(setup, this.opensnoop!, ['-p', pid], { stdout: out, stderr: e });
              closeSync(out); closeSync(e);
              await waitAttached(consumer, OPEN_TPS, 60000);
              break;
            }
          }
          break;
        } catch (e) {
          const errLines = existsSync(errFile) ? readFileSync(errFile, 'latin1').split('\n').map((l) => l.trim()).filter((l) => l && !/^Node\.js v/.test(l)) : [];
          const why = errLines.find((l) => /error/i.test(l)) ?? errLines[errLines.length - 1] ?? '';
          if (consumer && !consumer.exit) await stop(consumer, 'SIGINT', 20000);
          if (attempt >= 3) throw new Error(`${(e as Error).message}${why ? `: ${why}` : ''}`);
          notes.push(`attempt ${attempt} failed (${why.slice(0, 160)}); retried`);
          consumer = undefined;
          await sleep(1000);
        }
      }
      if (consumer) await sleep(o.settleMs);
      // Sampled over the load window only (from here to the end of the drain): start-up's resident set is VmHWM's.
      const sampler = consumer && o.memory ? new PeakRssSampler(consumer.pid) : undefined;
      if (consumer?.exit) throw new Error(`${setup} exited early: ${readFileSync(errFile, 'latin1').slice(0, 2000)}`);

      // Load window: from the go-file to the end of the drain.
      const cpu0 = consumer ? processCpuSeconds(consumer.pid) ?? NaN : NaN;
      const clock0 = consumer ? this.cpuClockSeconds(consumer.pid) : NaN;
      const sys0 = systemCpu();
      const foreign = foreignTracers(OPEN_TPS);
      const procs0 = allProcessCpu();
      const t0 = performance.now();
      writeFileSync(goFile, '');
      const genTimeout = Math.max(120_000, (o.opens / 10_000) * 1000);
      if (!(await waitExit(gen, genTimeout))) throw new Error(`load generator did not finish within ${genTimeout / 1000} s`);
      const tGen = performance.now();
      const genLine = gen.lines.find((l) => l.startsWith('opens='));
      if (!genLine) throw new Error(`load generator printed no result (exit ${JSON.stringify(gen.exit)})`);
      const kv = Object.fromEntries(genLine.split(' ').map((p) => p.split('=') as [string, string]));
      if (Number(kv.fails) > 0) notes.push(`${kv.fails} opens failed`);

      let drainS: number | undefined;
      let cpu1 = NaN;
      let clock1 = NaN;
      let hwmKb: number | undefined;
      let sys1 = systemCpu();
      if (consumer) {
        // Drained when neither the output size nor the consumer's CPU time moved (by more than one tick) for 500 ms.
        const tick = 1 / clockTicks();
        const size = () => { try { return statSync(outFile).size; } catch { return 0; } };
        let lastCpu = processCpuSeconds(consumer.pid) ?? 0;
        let lastSize = size();
        let lastChange = performance.now();
        let stable = 0;
        while (stable < 5) {
          await sleep(100);
          if (consumer.exit) { notes.push('consumer exited during the run'); break; }
          const c = processCpuSeconds(consumer.pid) ?? lastCpu;
          const s = size();
          if (c - lastCpu > tick + 1e-9 || s !== lastSize) { stable = 0; lastChange = performance.now(); } else stable++;
          lastCpu = c; lastSize = s;
          if (performance.now() - tGen > 120_000) { notes.push('output still growing after 120 s; stopped waiting'); break; }
        }
        drainS = Math.max(0, (lastChange - tGen) / 1000);
        cpu1 = processCpuSeconds(consumer.pid) ?? NaN;
        clock1 = this.cpuClockSeconds(consumer.pid);
        sys1 = systemCpu();
        hwmKb = statusKb(consumer.pid, 'VmHWM') ?? undefined;
      }
      const rssPeak = sampler?.stop();
      const windowS = ((consumer ? performance.now() : tGen) - t0) / 1000;
      // Who else used the CPUs during the window (other users of the machine, kernel threads)?
      const exclude = new Set<number>([process.pid, gen.pid, ...(consumer ? [consumer.pid] : [])]);
      const others = topCpuUsers(procs0, allProcessCpu(), exclude);

      // Stop the consumer (SIGINT, by PID) and count what it delivered.
      const res: RunResult = {
        setup, run, generated: Number(kv.opens), opensPerS: Number(kv.opens_per_s), genSeconds: Number(kv.seconds),
        genCpuS: Number(kv.utime_s) + Number(kv.stime_s), windowS, drainS, hwmKb,
        sysBusyS: sys1.busy - sys0.busy, otherCpuS: 0, loadAvg1: loadavg()[0] ?? 0, foreignTracers: foreign, otherProcesses: others, notes,
        rssPeak,
      };
      if (foreign.length) notes.push(`other processes traced openat during this run (noise): ${foreign.map((f) => `${f.pid} ${f.comm}`).join(', ')}`);
      if (consumer) {
        res.consumerPid = consumer.pid;
        // The kernel's runtime accounting; utime+stime are tick samples (HZ 250 here), which charge a whole
        // tick to a thread that happens to run when it fires: biased for threads that wake on a timer.
        res.consumerCpuS = Number.isFinite(clock1 - clock0) ? clock1 - clock0 : cpu1 - cpu0;
        res.consumerTickCpuS = cpu1 - cpu0;
        const exit = await stop(consumer, 'SIGINT', 20000);
        if (exit.code !== 0 && exit.signal !== 'SIGINT' && !(exit.code === null && exit.signal === null)) notes.push(`consumer exit code ${exit.code} signal ${exit.signal}`);
        switch (setup) {
          case 'floor-produce': case 'floor': case 'floor-read': case 'floor-read-256k': {
            const last = consumer.lines.find((l) => l.startsWith('{'));
            const st = last ? JSON.parse(last) as { lost: number; records: number; batches: number } : undefined;
            if (!st) notes.push('floor printed no final counters');
            if (setup === 'floor') { res.dropped = st?.lost; }
            else if (setup === 'floor-produce') { res.lost = st?.lost; }
            else { res.events = st?.records; res.lost = st?.lost; }
            break;
          }
          case 'ig': case 'ig-wasm': case 'bpftrace': case 'opensnoop': {
            const c = countOutput(outFile, GEN_COMM);
            res.events = c.events;
            res.outputBytes = c.bytes;
            res.lost = c.lost + lostInFile(errFile);
            if (setup === 'ig' && c.otherCount > 0) notes.push(`${c.otherCount} non-event lines, e.g. ${c.otherLines[0]}`);
            break;
          }
          case 'ig-null': case 'ig-none': case 'ig-wasm-none':
            res.lost = lostInFile(errFile);
            break;
          default:
            if (isPath(setup)) {
              if (PATHS[setup].file) {
                const c = countOutput(outFile, GEN_COMM);
                res.events = c.events;
                res.outputBytes = c.bytes;
                res.lost = c.lost + lostInFile(errFile);
              } else {
                res.lost = lostInFile(errFile);
              }
              // -v: whether the reader thread rendered (the run's own statement), and how much JS did
              const m = /open: (\d+) records rendered on the reader thread, (\d+) by JS/.exec(readFileSync(errFile, 'latin1'));
              if (m) notes.push(`reader thread rendered ${int(Number(m[1]))}, JS ${int(Number(m[2]))}`);
              const why = /open: (?:JSON|columns) rendered in JS \(([^)]*)\)/.exec(readFileSync(errFile, 'latin1'));
              if (why) notes.push(`rendered in JS: ${why[1]}`);
            }
        }
        if (WASM_SETUPS.includes(setup)) {
          const m = /wasm module .* ready in ([\d.]+) ms/.exec(readFileSync(errFile, 'latin1'));
          if (m) res.wasmStartMs = Number(m[1]);
        }
        const errText = existsSync(errFile) ? readFileSync(errFile, 'latin1') : '';
        const mem = /^memory: (\{.*\})$/m.exec(errText);
        if (mem) res.igMemory = (JSON.parse(mem[1]!) as { peakMiB: Record<string, unknown> }).peakMiB;
        const interesting = errText.split('\n').filter((l) => l.trim() && !/RLIMIT_MEMLOCK|Attaching \d+ probe|lost \d+ events|^DEBUG: |^memory: /i.test(l));
        if (interesting.length > 0) notes.push(`stderr: ${interesting.slice(0, 3).join(' | ').slice(0, 300)}`);
      }
      res.otherCpuS = res.sysBusyS - res.genCpuS - (res.consumerCpuS ?? 0);
      return res;
    } finally {
      if (!gen.exit) await stop(gen, 'SIGKILL', 5000);
      if (consumer && !consumer.exit) await stop(consumer, 'SIGINT', 20000);
      this.rm(goFile, outFile, errFile);
    }
  }

  /** Start-up latency: spawn → first event line on a pipe, with a ticker of known comm already running. */
  async latency(): Promise<LatencyResult[]> {
    const out: LatencyResult[] = [];
    if (this.o.latencyRuns === 0) return out;
    const ticker = start('ticker', this.loadgen, ['tick', '10'], { stdout: 'pipe', stderr: 'inherit' });
    try {
      await waitLine(ticker, /^ready/, 10000);
      const tools: { tool: string; cmd: string; args: string[]; env?: NodeJS.ProcessEnv; enabled: boolean }[] = [
        { tool: 'ig', cmd: process.execPath, args: [this.igMain, 'run', 'trace_open', '--host', '-o', 'json', '--comm', TICK_COMM], enabled: this.o.setups.includes('ig') },
        { tool: 'bpftrace', cmd: 'bpftrace', args: ['-e', BPFTRACE_TICK_SCRIPT], env: { ...process.env, BPFTRACE_STRLEN: '200' }, enabled: this.have.bpftrace! && this.o.setups.includes('bpftrace') },
        // opensnoop block-buffers stdout on a pipe; stdbuf -oL makes it line-buffered so the first line is not held back.
        { tool: 'opensnoop', cmd: this.have.stdbuf ? 'stdbuf' : this.opensnoop!, args: [...(this.have.stdbuf ? ['-oL', this.opensnoop!] : []), '-n', TICK_COMM], enabled: this.have.opensnoop! && this.o.setups.includes('opensnoop') },
      ];
      const active = tools.filter((t) => t.enabled);
      for (const t of active) out.push({ tool: t.tool, ms: [], errors: [] });
      for (let r = 0; r < this.o.latencyRuns; r++) {
        for (const t of active) {
          const res = out.find((x) => x.tool === t.tool)!;
          const errFile = this.file(`lat-${t.tool}-${r}.err`);
          const e = openSync(errFile, 'w');
          const t0 = performance.now();
          const c = start(`${t.tool}(latency)`, t.cmd, t.args, { stdout: 'pipe', stderr: e, env: t.env });
          closeSync(e);
          try {
            await waitLine(c, new RegExp(TICK_COMM), 30000);
            res.ms.push(performance.now() - t0);
          } catch (err) {
            res.errors.push(`${(err as Error).message}: ${readFileSync(errFile, 'latin1').slice(0, 300)}`);
          } finally {
            await stop(c, 'SIGINT', 20000);
            this.rm(errFile);
          }
          await sleep(300);
        }
      }
    } finally {
      await stop(ticker, 'SIGTERM', 5000);
    }
    return out;
  }
}

/**
 * Copy what `ig run` and the floor script need (dist/src, dist/bench, the addon, package.json, the .proto files
 * the container code loads) into `dest`; node_modules is a symlink. Returns `dest`.
 */
function snapshotBuild(dest: string): string {
  const copy = (rel: string) => cpSync(join(ROOT, rel), join(dest, rel), { recursive: true, filter: (src) => !src.endsWith('.map') });
  copy(join('dist', 'src'));
  copy(join('dist', 'bench'));
  copy('package.json');
  copy(join('native', 'binding.gyp'));
  copy(join('native', 'build', 'Release', 'ig_native.node'));
  for (const sub of ['containerd', 'cri']) if (existsSync(join(ROOT, 'src', 'containers', sub))) copy(join('src', 'containers', sub));
  symlinkSync(join(ROOT, 'node_modules'), join(dest, 'node_modules'));
  return dest;
}

/** Commit, count of uncommitted files under src/ and native/, and a fingerprint of the built JS and addon. */
interface BuildInfo { commit: string; uncommittedFiles: number | string; buildSha256: string }

function buildInfo(root: string): BuildInfo {
  const git = (args: string[]) => { try { return execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'n/a'; } };
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js') || e.name.endsWith('.node')) h.update(p.slice(root.length)).update(readFileSync(p));
    }
  };
  try { walk(join(root, 'dist', 'src')); walk(join(root, 'native', 'build', 'Release')); } catch { /* partial */ }
  const dirty = git(['status', '--porcelain', '--', 'src', 'native']);
  return { commit: git(['rev-parse', 'HEAD']), uncommittedFiles: dirty === 'n/a' ? dirty : dirty.split('\n').filter(Boolean).length, buildSha256: h.digest('hex').slice(0, 16) };
}

interface Summary {
  setup: SetupId;
  label: string;
  runs: number;
  opensPerS: number;
  opensPerSRuns: number[];
  vsBaseline: number;
  vsFloor: number;
  /** against the floor with drops (no reader at all) */
  vsFloorDrops: number;
  generated: number;
  events: number | null;
  lost: number | null;
  dropped: number | null;
  consumerCpuS: number[];
  usPerEvent: number | null;
  /** the same from tick samples (utime+stime) */
  usPerEventTicks: number | null;
  hwmMiB: number | null;
  sysBusyS: number[];
  otherCpuS: number[];
  bytesPerEvent: number | null;
}

function summarize(results: RunResult[], setups: SetupId[]): Summary[] {
  const byId = (id: SetupId) => results.filter((r) => r.setup === id);
  const baseline = mean(byId('baseline').map((r) => r.opensPerS));
  // The kernel-side floor: every event produced, nobody reading it (falls back to the floor with drops).
  const produced = byId('floor-produce');
  const floor = mean((produced.length ? produced : byId('floor')).map((r) => r.opensPerS));
  const floorDrops = mean(byId('floor').map((r) => r.opensPerS));
  return setups.filter((s) => byId(s).length > 0).map((s) => {
    const rs = byId(s);
    const generated = rs.reduce((a, r) => a + r.generated, 0);
    const counted = rs.every((r) => r.events !== undefined);
    const events = counted ? rs.reduce((a, r) => a + (r.events ?? 0), 0) : null;
    const lostKnown = rs.every((r) => r.lost !== undefined);
    const lost = lostKnown ? rs.reduce((a, r) => a + (r.lost ?? 0), 0) : null;
    const cpu = rs.map((r) => r.consumerCpuS).filter((x): x is number => x !== undefined);
    // µs of consumer CPU per delivered event: counted events, else generated minus lost.
    const delivered = events ?? (lost !== null && !FLOOR_SETUPS.includes(s) ? generated - lost : null);
    const usPerEvent = cpu.length === rs.length && cpu.length > 0 && delivered ? (cpu.reduce((a, b) => a + b, 0) / delivered) * 1e6 : null;
    const ticks = rs.map((r) => r.consumerTickCpuS).filter((x): x is number => x !== undefined);
    const usPerEventTicks = ticks.length === rs.length && ticks.length > 0 && delivered ? (ticks.reduce((a, b) => a + b, 0) / delivered) * 1e6 : null;
    const hwm = rs.map((r) => r.hwmKb).filter((x): x is number => x !== undefined);
    const bytes = rs.map((r) => r.outputBytes).filter((x): x is number => x !== undefined);
    const opens = mean(rs.map((r) => r.opensPerS));
    return {
      setup: s, label: LABEL[s], runs: rs.length, opensPerS: opens, opensPerSRuns: rs.map((r) => r.opensPerS),
      vsBaseline: opens / baseline, vsFloor: opens / floor, vsFloorDrops: opens / floorDrops, generated, events, lost,
      dropped: s === 'floor' ? rs.reduce((a, r) => a + (r.dropped ?? 0), 0) : null,
      consumerCpuS: cpu, usPerEvent, usPerEventTicks, hwmMiB: hwm.length ? Math.max(...hwm) / 1024 : null,
      sysBusyS: rs.map((r) => r.sysBusyS), otherCpuS: rs.map((r) => r.otherCpuS),
      bytesPerEvent: bytes.length === rs.length && events ? bytes.reduce((a, b) => a + b, 0) / events : null,
    };
  });
}

interface Target { name: string; target: string; value: string; pass: boolean | null }

/**
 * The issue's targets are for its own setup, `ig run trace_open -o json > /dev/null` (ig-null). The run to a
 * /dev/shm file (ig) counts the lines, so lost events are checked on both.
 */
function targets(sum: Summary[], lat: LatencyResult[]): Target[] {
  const igNull = sum.find((s) => s.setup === 'ig-null');
  const igFile = sum.find((s) => s.setup === 'ig');
  const ig = igNull ?? igFile;
  const latIg = lat.find((l) => l.tool === 'ig');
  const out: Target[] = [];
  const pctOf = (x: number) => `${fix(x * 100, 1)}%`;
  if (ig) {
    const on = igNull ? '-o json > /dev/null' : '-o json > file';
    out.push({ name: `workload vs kernel-side floor (${on})`, target: '>= 95%', value: Number.isFinite(ig.vsFloor) ? pctOf(ig.vsFloor) : 'n/a (no floor run)', pass: Number.isFinite(ig.vsFloor) ? ig.vsFloor >= 0.95 : null });
    if (Number.isFinite(ig.vsFloorDrops)) out.push({ name: `workload vs floor with drops (${on}; for reference)`, target: '-', value: pctOf(ig.vsFloorDrops), pass: null });
    const missing = igFile && igFile.events !== null ? igFile.generated - igFile.events : null;
    const lostAll = [igNull?.lost, igFile?.lost].filter((x): x is number => x !== null && x !== undefined);
    out.push({
      name: 'lost events', target: '0',
      value: `${igNull ? `${int(igNull.lost)} reported (> /dev/null)` : ''}${igNull && igFile ? '; ' : ''}${igFile ? `${int(igFile.lost)} reported, ${int(missing)} lines missing of ${int(igFile.generated)} (> file)` : ''}`,
      pass: lostAll.length > 0 && lostAll.every((x) => x === 0) && (missing === null || missing === 0),
    });
    out.push({ name: `consumer CPU per event (${on})`, target: '<= 0.5 µs', value: `${fix(ig.usPerEvent, 3)} µs`, pass: ig.usPerEvent !== null ? ig.usPerEvent <= 0.5 : null });
    if (igNull && igFile) out.push({ name: 'consumer CPU per event (-o json > /dev/shm file; for reference)', target: '-', value: `${fix(igFile.usPerEvent, 3)} µs`, pass: null });
    out.push({ name: `peak RSS (VmHWM, ${on})`, target: '<= 80 MiB', value: `${fix(ig.hwmMiB, 1)} MiB`, pass: ig.hwmMiB !== null ? ig.hwmMiB <= 80 : null });
  }
  if (latIg) {
    const med = median(latIg.ms);
    out.push({ name: 'first event after start (median)', target: '<= 400 ms', value: latIg.ms.length ? `${fix(med, 0)} ms (min ${fix(Math.min(...latIg.ms), 0)}, max ${fix(Math.max(...latIg.ms), 0)})` : `failed: ${latIg.errors[0] ?? ''}`, pass: latIg.ms.length ? med <= 400 : false });
  }
  return out;
}

/**
 * Issue 12's targets for the WASM operator: the same -o none run with and without the module (extra CPU per
 * event), no lost events, the traced workload against the kernel-side floor, and the module start time.
 * On a shared machine the load moves between rounds more than the module costs, so every figure is taken within
 * one round (ig-none, ig-wasm-none and floor-produce of run k ran back to back, interleaved) and the median over
 * the rounds is judged; the pooled means are shown beside it.
 */
function wasmTargets(sum: Summary[], results: RunResult[]): Target[] {
  const none = sum.find((s) => s.setup === 'ig-none');
  const wasm = sum.find((s) => s.setup === 'ig-wasm-none');
  const wasmFile = sum.find((s) => s.setup === 'ig-wasm');
  if (!wasm && !wasmFile) return [];
  const out: Target[] = [];
  const runOf = (id: SetupId, k: number) => results.find((r) => r.setup === id && r.run === k);
  const perEvent = (r: RunResult | undefined) => (r?.consumerCpuS !== undefined && r.lost !== undefined && r.generated > r.lost ? (r.consumerCpuS * 1e6) / (r.generated - r.lost) : undefined);
  const rounds = [...new Set(results.map((r) => r.run))].sort((a, b) => a - b);
  if (wasm && none && wasm.usPerEvent !== null && none.usPerEvent !== null) {
    const pairs = rounds.map((k) => [perEvent(runOf('ig-wasm-none', k)), perEvent(runOf('ig-none', k))]).filter((p): p is [number, number] => p[0] !== undefined && p[1] !== undefined);
    const extras = pairs.map(([w, n]) => w - n);
    const extra = extras.length ? median(extras) : wasm.usPerEvent - none.usPerEvent;
    out.push({
      name: 'WASM: extra consumer CPU per event (-o none, with vs without the module; median of same-round pairs)', target: '<= 0.3 µs',
      value: `${fix(extra, 3)} µs (pairs: ${extras.map((x) => fix(x, 3)).join(', ')}; pooled ${fix(wasm.usPerEvent - none.usPerEvent, 3)} = ${fix(wasm.usPerEvent, 3)} - ${fix(none.usPerEvent, 3)})`,
      pass: extra <= 0.3,
    });
  }
  const w = wasm ?? wasmFile!;
  const wId = w.setup;
  const floorRatios = rounds.map((k) => { const a = runOf(wId, k); const f = runOf('floor-produce', k); return a && f ? a.opensPerS / f.opensPerS : undefined; }).filter((x): x is number => x !== undefined);
  const vsFloor = floorRatios.length ? median(floorRatios) : w.vsFloor;
  out.push({
    name: 'WASM: traced workload vs kernel-side floor (median of same-round ratios)', target: '>= 90%',
    value: Number.isFinite(vsFloor) ? `${fix(vsFloor * 100, 1)}% (rounds: ${floorRatios.map((x) => `${fix(x * 100, 1)}%`).join(', ')})` : 'n/a (no floor run)',
    pass: Number.isFinite(vsFloor) ? vsFloor >= 0.9 : null,
  });
  const lost = [wasm?.lost, wasmFile?.lost].filter((x): x is number => x !== null && x !== undefined);
  const missing = wasmFile && wasmFile.events !== null ? wasmFile.generated - wasmFile.events : null;
  const lostNone = none?.lost;
  out.push({ name: 'WASM: lost events', target: '0', value: `${lost.join(' / ')} reported${missing !== null ? `, ${int(missing)} lines missing (> file)` : ''}${lostNone !== null && lostNone !== undefined ? `; without the module: ${int(lostNone)}` : ''}`, pass: lost.length > 0 && lost.every((x) => x === 0) && (missing === null || missing === 0) });
  const starts = results.map((r) => r.wasmStartMs).filter((x): x is number => x !== undefined);
  if (starts.length) out.push({ name: 'WASM: module start (compile, instantiate, gadgetInit; median)', target: '<= 50 ms', value: `${fix(median(starts), 1)} ms (max ${fix(Math.max(...starts), 1)})`, pass: median(starts) <= 50 });
  return out;
}

/**
 * Issue 16's targets for every output path on the open() storm: 0 lost, traced workload >= 90% of the kernel-side
 * floor, <= 1 µs consumer CPU per event (judged on the > /dev/null runs; the file runs check the lines).
 */
function pathTargets(sum: Summary[]): Target[] {
  const out: Target[] = [];
  const groups: [string, SetupId[]][] = [
    ['-o json', ['ig-null', 'ig']], ['-o json --filter', ['ig-filter-null', 'ig-filter']], ['-o json -E', ['ig-expr-null', 'ig-expr']],
    ['-o columns', ['ig-columns-null', 'ig-columns']],
  ];
  for (const [name, [nullId, fileId]] of groups) {
    const n = sum.find((s) => s.setup === nullId);
    const f = sum.find((s) => s.setup === fileId);
    const judged = n ?? f;
    if (!judged || name === '-o json') continue; // -o json has its own targets above
    out.push({ name: `${name}: workload vs kernel-side floor`, target: '>= 90%', value: Number.isFinite(judged.vsFloor) ? `${fix(judged.vsFloor * 100, 1)}%` : 'n/a (no floor run)', pass: Number.isFinite(judged.vsFloor) ? judged.vsFloor >= 0.9 : null });
    const missing = f && f.events !== null ? f.generated - f.events : null;
    const lost = [n?.lost, f?.lost].filter((x): x is number => x !== null && x !== undefined);
    out.push({ name: `${name}: lost events`, target: '0', value: `${lost.map(int).join(' / ')} reported${missing !== null ? `, ${int(missing)} lines missing of ${int(f!.generated)} (> file)` : ''}`, pass: lost.length > 0 && lost.every((x) => x === 0) && (missing === null || missing === 0) });
    out.push({ name: `${name}: consumer CPU per event${n ? ' (> /dev/null)' : ''}`, target: '<= 1 µs', value: `${fix(judged.usPerEvent, 3)} µs`, pass: judged.usPerEvent !== null ? judged.usPerEvent <= 1 : null });
  }
  return out;
}

interface Ratio { metric: string; better: string; vs: Record<string, string> }

function peerRatios(sum: Summary[], lat: LatencyResult[]): Ratio[] {
  const ig = sum.find((s) => s.setup === 'ig');
  if (!ig) return [];
  const peers = sum.filter((s) => s.setup === 'bpftrace' || s.setup === 'opensnoop');
  const latOf = (t: string) => { const l = lat.find((x) => x.tool === t); return l && l.ms.length ? median(l.ms) : NaN; };
  const r = (a: number | null, b: number | null) => (a !== null && b !== null && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${fix(a / b, 2)}x` : 'n/a');
  const rows: Ratio[] = [
    { metric: 'traced workload opens/s (ig / peer)', better: 'higher', vs: {} },
    { metric: 'consumer CPU per event (ig / peer)', better: 'lower', vs: {} },
    { metric: 'peak RSS (ig / peer)', better: 'lower', vs: {} },
    { metric: 'first event after start (ig / peer)', better: 'lower', vs: {} },
    { metric: 'lost events (ig vs peer)', better: 'lower', vs: {} },
  ];
  for (const p of peers) {
    rows[0]!.vs[p.setup] = r(ig.opensPerS, p.opensPerS);
    rows[1]!.vs[p.setup] = r(ig.usPerEvent, p.usPerEvent);
    rows[2]!.vs[p.setup] = r(ig.hwmMiB, p.hwmMiB);
    rows[3]!.vs[p.setup] = r(latOf('ig'), latOf(p.setup));
    rows[4]!.vs[p.setup] = `${int(ig.lost)} vs ${int(p.lost)}`;
  }
  return rows;
}

function report(o: Options, sum: Summary[], results: RunResult[], lat: LatencyResult[], tg: Target[], ratios: Ratio[]): string {
  const parts: string[] = [];
  const pct = (n: number) => (Number.isFinite(n) ? `${fix(n * 100, 1)}%` : 'n/a');
  parts.push(`### trace_open: ${int(o.opens)} opens per run, ${o.runs} run(s) per setup, interleaved`);
  parts.push(markdownTable(
    ['setup', 'runs', 'opens/s (mean)', 'per run', 'vs no tracer', 'vs floor', 'events captured / generated', 'lost', 'consumer CPU s (per run)', 'µs CPU/event', 'µs/event (tick samples)', 'peak RSS MiB', 'system busy CPU-s (per run)', 'other CPU-s (per run)'],
    sum.map((s) => [
      s.label, String(s.runs), int(s.opensPerS), s.opensPerSRuns.map(int).join(' / '), pct(s.vsBaseline), pct(s.vsFloor),
      s.setup === 'baseline' ? '-' : s.setup === 'floor' ? 'n/a (no reader)' : s.setup === 'floor-produce' ? 'n/a (not read)' : s.events === null ? 'not counted' : `${int(s.events)} / ${int(s.generated)} (${fix((s.events / s.generated) * 100, 3)}%)`,
      s.setup === 'floor' ? `(${int(s.dropped)} dropped by design)` : s.setup === 'baseline' ? '-' : int(s.lost),
      s.consumerCpuS.length ? s.consumerCpuS.map((x) => fix(x, 2)).join(' / ') : '-',
      s.setup === 'floor' || s.setup === 'floor-produce' || s.setup === 'baseline' ? '-' : fix(s.usPerEvent, 3),
      s.setup === 'floor' || s.setup === 'floor-produce' || s.setup === 'baseline' ? '-' : fix(s.usPerEventTicks, 3),
      fix(s.hwmMiB, 1),
      s.sysBusyS.map((x) => fix(x, 2)).join(' / '),
      s.otherCpuS.map((x) => fix(x, 2)).join(' / '),
    ]),
  ));
  if (lat.length) {
    parts.push('#### Start-up: spawn → first event line on a pipe (ticker opens a file every 10 ms)');
    parts.push(markdownTable(['tool', 'runs', 'median ms', 'min ms', 'max ms', 'all ms', 'errors'],
      lat.map((l) => [l.tool, String(l.ms.length), fix(median(l.ms), 0), l.ms.length ? fix(Math.min(...l.ms), 0) : 'n/a', l.ms.length ? fix(Math.max(...l.ms), 0) : 'n/a', l.ms.map((x) => fix(x, 0)).join(' / '), l.errors.length ? l.errors.join('; ').slice(0, 200) : '-'])));
  }
  if (tg.length) {
    parts.push('#### ig targets');
    parts.push(markdownTable(['target', 'goal', 'measured', 'result'], tg.map((t) => [t.name, t.target, t.value, t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL'])));
  }
  if (ratios.length && Object.keys(ratios[0]!.vs).length) {
    const peers = Object.keys(ratios[0]!.vs);
    parts.push('#### ig compared with its peers');
    parts.push(markdownTable(['metric', 'better', ...peers.map((p) => `vs ${p}`)], ratios.map((r) => [r.metric, r.better, ...peers.map((p) => r.vs[p] ?? 'n/a')])));
  }
  const noisy = results.filter((r) => r.otherProcesses.length);
  if (noisy.length) {
    parts.push('#### Other CPU users during the load windows (noise; >= 0.2 CPU-s, top 4)');
    parts.push(markdownTable(['setup', 'run', 'window s', 'other CPU-s', 'processes (CPU-s)'],
      noisy.map((r) => [r.setup, String(r.run), fix(r.windowS, 1), fix(r.otherCpuS, 2), r.otherProcesses.map((p) => `${p.comm}[${p.pid}] ${fix(p.cpuS, 2)}`).join(', ')])));
  }
  const noted = results.filter((r) => r.notes.length);
  if (noted.length) {
    parts.push('#### Notes');
    for (const r of noted) parts.push(`* ${r.setup} run ${r.run}: ${r.notes.join('; ')}`);
  }
  return parts.join('\n\n');
}

function machine(): Record<string, unknown> {
  const v = (cmd: string, args: string[]) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0]; } catch { return 'n/a'; } };
  return {
    kernel: release(), cpus: onlineCpuCount(), cpuModel: cpus()[0]?.model ?? 'n/a', node: process.version,
    bpftrace: v('bpftrace', ['--version']), bpftool: v('bpftool', ['version']), gcc: v('gcc', ['--version']),
    opensnoopPackage: v('dpkg-query', ['-W', '-f', '${Package} ${Version}', 'libbpf-tools']),
    loadAvgAtStart: loadavg(),
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  // ig prints its own memory figures at exit (src/cli/trace-memory.ts); every ig child inherits this.
  if (o.memory) process.env.IG_TRACE_MEMORY = '1';
  for (const f of [join(ROOT, IG_MAIN_REL), join(ROOT, FLOOR_JS_REL)]) if (!existsSync(f)) throw new Error(`${f} is missing: build first (npx tsc -p tsconfig.json)`);
  // The gadget must be in the local store (ig run would otherwise try to pull it).
  const { getGadgetImage } = await import('../src/oci/index.js');
  try { await getGadgetImage('trace_open', { pull: 'never' }); } catch (e) {
    throw new Error(`${(e as Error).message}\nbuild it with: node dist/src/cli/build-official.js trace_open`);
  }
  const bench = new Bench(o);
  if (!bench.have.bpftool) throw new Error('bpftool is needed to detect when the tracers are attached');
  const setups = o.setups.filter((s) => {
    if (s === 'bpftrace' && !bench.have.bpftrace) { process.stderr.write('bpftrace not found: skipping it\n'); return false; }
    if (s === 'opensnoop' && !bench.have.opensnoop) { process.stderr.write('libbpf-tools opensnoop not found: skipping it\n'); return false; }
    return true;
  });
  const progsBefore = new Set(loadedPrograms().map((p) => p.id));
  const onSignal = () => { process.stderr.write('\ninterrupted: stopping children\n'); void stopAll().then(() => { bench.cleanup(); process.exit(130); }); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: RunResult[] = [];
  const failures: { setup: SetupId; run: number; error: string }[] = [];
  const started = new Date();
  const info = machine();
  const build = { snapshot: o.snapshot, ...buildInfo(bench.igRoot) };
  const repoBuildAtStart = o.snapshot ? buildInfo(ROOT).buildSha256 : undefined;
  process.stderr.write(`trace_open bench: ${int(o.opens)} opens x ${o.runs} run(s), setups ${setups.join(', ')}; ${info.cpus} CPUs, kernel ${info.kernel}\n`);
  let lat: LatencyResult[] = [];
  try {
    for (let run = 1; run <= o.runs; run++) {
      for (const s of setups) {
        process.stderr.write(`  run ${run}/${o.runs} ${s.padEnd(10)} `);
        try {
          const r = await runOne(bench, s, run);
          results.push(r);
          process.stderr.write(`${int(r.opensPerS).padStart(9)} opens/s${r.events !== undefined ? `  events ${int(r.events)}` : ''}${r.lost !== undefined ? `  lost ${int(r.lost)}` : ''}${r.consumerCpuS !== undefined ? `  cpu ${fix(r.consumerCpuS, 2)} s` : ''}${r.hwmKb !== undefined ? `  hwm ${fix(r.hwmKb / 1024, 1)} MiB` : ''}\n`);
        } catch (e) {
          process.stderr.write(`FAILED: ${(e as Error).message}\n`);
          if (o.failFast) throw e;
          failures.push({ setup: s, run, error: (e as Error).message });
        }
        await sleep(500);
      }
    }
    process.stderr.write('  start-up latency...\n');
    lat = await bench.latency();
  } finally {
    await stopAll();
    bench.cleanup();
  }

  // Nothing of ours may stay loaded.
  await sleep(300);
  const leftovers = programsHeldBy(spawnedPids);
  const newProgs = loadedPrograms().filter((p) => !progsBefore.has(p.id));
  // New programs with the tracers' names that no live process holds (leaked or pinned). Programs held by other
  // users of the machine (another ig, say) are not ours; bpftool does not always list their owners, so /proc decides.
  const ourNames = /^(ig_open|tracepoint_sys|sys_enter_opena|sys_exit_opena|tracepoint__sys)/;
  const suspicious = newProgs.filter((p) => ourNames.test(p.name)).map((p) => ({ ...p, pids: programOwners(p.id) }))
    .filter((p) => p.pids.length === 0 || p.pids.some((q) => spawnedPids.has(q)));

  const repoBuildAtEnd = buildInfo(ROOT).buildSha256;
  const sum = summarize(results, setups);
  const tg = [...targets(sum, lat), ...pathTargets(sum), ...wasmTargets(sum, results)];
  const ratios = peerRatios(sum, lat);
  const text = report(o, sum, results, lat, tg, ratios) + (o.memory ? `\n\n${memoryReport(results, setups)}` : '');
  const stamp = started.toISOString().replace(/:/g, '').replace(/\..*$/, '');
  const jsonPath = o.json ?? join(RESULTS_DIR, `trace_open-${stamp}.json`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify({
    bench: 'trace_open', started: started.toISOString(), finished: new Date().toISOString(), options: { ...o, setups }, machine: info, build: { ...build, repoBuildAtStart, repoBuildAtEnd },
    summary: sum, runs: results, failures, latency: lat, targets: tg, peerRatios: ratios,
    cleanup: { programsHeldByOurPids: leftovers, newProgramsWithTracerNames: suspicious, tracepointsOfOurPids: [...spawnedPids].filter((p) => attachedTracepoints(p).size > 0) },
    bpftraceScript: BPFTRACE_SCRIPT,
  }, null, 2)}\n`);
  process.stdout.write(`ig build: commit ${String(build.commit).slice(0, 12)}, ${build.uncommittedFiles} uncommitted file(s) under src/ and native/, build ${build.buildSha256}${o.snapshot ? ' (private snapshot taken at start)' : ''}${!o.snapshot && repoBuildAtEnd !== build.buildSha256 ? ' -- WARNING: dist/ changed during the bench' : ''}\n\n`);
  process.stdout.write(`${text}\n\n`);
  if (failures.length) process.stdout.write(`FAILED runs (left out of the tables): ${failures.map((f) => `${f.setup} run ${f.run}: ${f.error.slice(0, 300)}`).join('; ')}\n`);
  if (leftovers.length || suspicious.length) process.stdout.write(`WARNING: BPF programs left loaded: ${JSON.stringify({ leftovers, suspicious })}\n`);
  else process.stdout.write('cleanup: no BPF program of this benchmark is still loaded; /dev/shm scratch removed\n');
  process.stdout.write(`results: ${jsonPath}\n`);
}

/**
 * --memory: per setup, the run with the largest VmHWM, its resident set by mapping at the largest sample of the
 * load window, and ig's own figures (V8 heap by space, external memory) at its largest resident set.
 */
function memoryReport(results: RunResult[], setups: SetupId[]): string {
  const groups = new Set<string>();
  const rows: { s: SetupId; r: RunResult }[] = [];
  for (const s of setups) {
    const rs = results.filter((r) => r.setup === s && r.hwmKb !== undefined);
    if (!rs.length) continue;
    const r = rs.reduce((a, b) => ((b.hwmKb ?? 0) > (a.hwmKb ?? 0) ? b : a));
    rows.push({ s, r });
    for (const g of Object.keys(r.rssPeak?.groups ?? {})) groups.add(g);
  }
  const cols = [...groups].sort();
  const mib = (kb: number | undefined) => (kb === undefined ? '-' : fix(kb / 1024, 1));
  const lines = [
    'Resident set at its largest sample under load, MiB (the run with the largest VmHWM of each setup):',
    '',
    `| setup | VmHWM | largest sample | ${cols.join(' | ')} |`,
    `|---|---|---|${cols.map(() => '---').join('|')}|`,
    ...rows.map(({ s, r }) => `| ${LABEL[s]} | ${mib(r.hwmKb)} | ${mib(r.rssPeak?.rssKb)} | ${cols.map((c) => mib(r.rssPeak?.groups[c])).join(' | ')} |`),
    '',
    // VmHWM covers start-up too; the load window's largest RSS sample is what a streaming run holds. PSS and USS
    // tell shared page-cache pages (node's binary, also mapped by every other node process) from ig's own.
    'Under load, MiB (smaps_rollup every 50 ms; USS = Private_Clean + Private_Dirty, the ring counts there; each peak is the',
    "figure's own largest sample, so they need not add up):",
    '',
    '| setup | VmHWM (whole run) | RSS, largest sample under load | PSS peak | USS peak | Anonymous peak | Shared_Clean at the RSS peak |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(({ s, r }) => { const u = r.rssPeak?.rollupPeak; return `| ${LABEL[s]} | ${mib(r.hwmKb)} | ${mib(r.rssPeak?.rssKb)} | ${mib(u?.pssKb)} | ${mib(u?.ussKb)} | ${mib(u?.anonKb)} | ${mib(r.rssPeak?.rollup?.sharedCleanKb)} |`; }),
  ];
  const own = rows.filter(({ r }) => r.igMemory);
  if (own.length) {
    lines.push('', "ig's own figures at its largest resident set (IG_TRACE_MEMORY), MiB:", '');
    for (const { s, r } of own) lines.push(`- ${LABEL[s]}: ${JSON.stringify(r.igMemory)}`);
  }
  const anon = rows.filter(({ r }) => r.rssPeak?.topAnon.length);
  if (anon.length) {
    lines.push('', 'Largest anonymous mappings at that sample (size/resident MiB):', '');
    for (const { s, r } of anon) lines.push(`- ${LABEL[s]}: ${r.rssPeak!.topAnon.map((a) => `${mib(a.sizeKb)}/${mib(a.rssKb)}`).join(', ')}`);
  }
  return lines.join('\n');
}

function runOne(bench: Bench, s: SetupId, run: number): Promise<RunResult> {
  return bench.runOne(s, run);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  void stopAll().then(() => process.exit(1));
});
