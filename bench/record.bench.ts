// Record/replay benchmark (issue 18, item 4):
//
//   node dist/bench/record.bench.js [--records N] [--runs R] [--storm] [--storm-runs R] [--keep]
//
// Replay: a recording of N plausible trace_open records (written with ig's RecordingWriter and the real trace_open
// image from the local store, batches of 1,024 as the reader delivers them) is replayed by the real command,
// `ig replay FILE -o json > /dev/null` (the native replay loop; also with a plan call per batch from JS,
// IG_NATIVE_REPLAY=0), and with `-o none` (reading, decompressing and emitting only). Per run:
// events per second of wall time from spawn to exit and per second of the replaying process's CPU (start-up
// included), with the native render plan and with the JS pipeline (IG_NATIVE_RENDER=0); and the same with the
// start-up taken off (the medians of a one-batch recording's replays, run interleaved): the replay's steady rate.
// --storm: also the recording side, through the trace_open benchmark's storm (bench/trace_open.bench.ts) with its
// setups baseline, floor-produce (the kernel-side floor), ig (`-o json` to a /dev/shm file), ig-record (the same with
// `--record /dev/shm/…`: rendered and recorded on the reader thread) and ig-record-none (`-o none --record`): the
// workload's rate against the floor and against the same output without the recording, and lost events.
// Results: a Markdown table on stdout, JSON in bench/results/record-<date>.json.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareGadget } from '../src/runtime/assemble.js';
import { defaultDataOperators } from '../src/runtime/operators.js';
import { Logger } from '../src/gadget/logger.js';
import { Kind, baseKind, isIntegerKind, type Batch } from '../src/datasource/index.js';
import { getGadgetImage } from '../src/oci/image-load.js';
import { RecordingWriter } from '../src/record/writer.js';
import { toReaderLayout } from '../src/operators/ebpf/record-tap.js';
import { HostFacts } from '../src/gadget/host-facts.js';
import { fix, int, markdownTable, median } from './lib/table.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IG_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const RESULTS_DIR = join(ROOT, 'bench', 'results');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const total = Number(arg('records', '2000000'));
const runs = Number(arg('runs', '3'));
const BATCH = 1024;

/** Plausible records of a storm, as the codec benchmark makes them: members set through their fields, the rest zero
 * (the user stack's too, as without --collect-ustack: a replay would need recorded symbols for it). */
function fill(b: Batch, seed: number): void {
  b.buf.fill(0);
  const statics = b.ds.fields.filter((f) => f.storage.type === 'static' && !f.isEmpty && !f.storage.bitSize && !f.fullName.startsWith('ustack'));
  for (let i = 0; i < b.count; i++) {
    const n = seed + i;
    for (const [k, f] of statics.entries()) {
      const s = f.storage as { offs: number; size: number };
      const o = b.offs[i]! + s.offs;
      if (baseKind(f.kind) === Kind.CString || baseKind(f.kind) === Kind.String) {
        b.buf.write(f.name.includes('comm') ? `proc${n % 13}` : `/usr/lib/x86_64-linux-gnu/lib${(n + k) % 97}.so.6`.slice(0, s.size - 1), o);
      } else if (s.size === 8 && f.name.includes('timestamp')) {
        b.buf.writeBigUInt64LE(5_000_000_000_000n + BigInt(n) * 1000n, o);
      } else if (isIntegerKind(f.kind) && (s.size === 4 || s.size === 8)) {
        // A storm's shape: a few processes (memo keys repeat), varying fds and return values.
        const v = f.name.includes('mntns') || f.name.includes('uid') || f.name.includes('gid') ? 0
          : f.name === 'pid' || f.name === 'tid' ? 4000 + (n % 13)
            : f.name === 'fd' || f.name.includes('error') ? (n * 7919 + k * 31) % 64 : (k * 31) % 1024;
        b.buf.writeUInt32LE(v, o);
      }
    }
  }
}

async function makeRecording(path: string, total: number): Promise<number> {
  const log = new Logger('error');
  const img = await getGadgetImage('trace_open', { pull: 'never' });
  const w = new RecordingWriter(path);
  w.begin(img, 'bench');
  const facts = HostFacts.record(w);
  facts.ask('clock', 'boot-to-wall-ns', () => String(1_700_000_000_000_000_000n), '0');
  const ctx = await prepareGadget('trace_open', { operators: defaultDataOperators(), log, image: { pull: 'never' } });
  const ds = ctx.dataSources.get('open')!;
  const b = ds.newBatch(BATCH);
  for (let done = 0; done < total; done += BATCH) {
    fill(b, done);
    w.batch('open', toReaderLayout(b), BATCH, 0).commit();
    // Let the thread pool's compressions finish now and then: the writer bounds its backlog anyway.
    if ((done / BATCH) % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  await w.close('bench');
  return statSync(path).size;
}

interface Run { wallS: number; cpuS: number }

/** CPU (user + system) of this process's waited-for children so far, seconds: cutime + cstime of /proc/self/stat. */
function childrenCpuS(): number {
  const st = readFileSync('/proc/self/stat', 'latin1');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // fields 16 and 17, in clock ticks (USER_HZ = 100)
}

/** Spawn ig replay with stdout to /dev/null: wall time from spawn to exit and the child's CPU. */
function replayRun(file: string, output: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c0 = childrenCpuS();
    const t0 = performance.now();
    const child = spawn(process.execPath, [IG_MAIN, 'replay', file, '-o', output], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('exit', (code) => {
      const wallS = (performance.now() - t0) / 1000;
      if (code !== 0) { reject(new Error(`ig replay -o ${output} exited ${code}: ${err}`)); return; }
      resolve({ wallS, cpuS: childrenCpuS() - c0 });
    });
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'igb-record-'));
  const file = join(dir, 'replay.igrec');
  const results: Record<string, unknown> = { date: new Date().toISOString(), records: total, loadavg: loadavg() };
  try {
    const t0 = performance.now();
    const bytes = await makeRecording(file, total);
    // The same command on one batch: its start-up (node, modules, the image's BTF) is taken off below, so that the
    // steady rate is the replay's own.
    const tiny = join(dir, 'tiny.igrec');
    await makeRecording(tiny, BATCH);
    process.stderr.write(`recording: ${total} records, ${bytes} bytes (${fix(bytes / total, 1)} bytes/record) in ${fix((performance.now() - t0) / 1000)}s\n`);
    results['recordingBytes'] = bytes;
    const rows: string[][] = [];
    const variants: [string, Record<string, string>, string, string][] = [
      ['json', {}, '', ''],
      ['json', { IG_NATIVE_REPLAY: '0' }, '-perbatch', ' (a plan call per batch from JS, IG_NATIVE_REPLAY=0)'],
      ['json', { IG_NATIVE_RENDER: '0' }, '-js', ' (JS pipeline, IG_NATIVE_RENDER=0)'],
      ['none', {}, '', ''],
    ];
    for (const [output, env, key, label] of variants) {
      const rs: Run[] = [];
      const ts: Run[] = [];
      // Interleaved: the full replay and the one-batch replay see the same load.
      for (let i = 0; i < runs; i++) { rs.push(await replayRun(file, output, env)); ts.push(await replayRun(tiny, output, env)); }
      const wall = median(rs.map((r) => r.wallS));
      const cpu = median(rs.map((r) => r.cpuS));
      const wall0 = median(ts.map((r) => r.wallS));
      const cpu0 = median(ts.map((r) => r.cpuS));
      const steadyWall = (total - BATCH) / Math.max(1e-3, wall - wall0);
      const steadyCpu = (total - BATCH) / Math.max(1e-3, cpu - cpu0);
      results[`replay-${output}${key}`] = {
        wallS: rs.map((r) => r.wallS), cpuS: rs.map((r) => r.cpuS), startupWallS: ts.map((r) => r.wallS), startupCpuS: ts.map((r) => r.cpuS),
        eventsPerWallS: total / wall, eventsPerCpuS: total / cpu, steadyEventsPerWallS: steadyWall, steadyEventsPerCpuS: steadyCpu,
      };
      rows.push([`ig replay FILE -o ${output} > /dev/null${label}`, int(total), fix(wall, 2), int(total / wall), fix(cpu, 2), int(total / cpu), fix(wall0, 2), int(steadyWall), int(steadyCpu)]);
    }
    process.stdout.write(`Replay (${runs} runs, median; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})\n\n`);
    process.stdout.write(markdownTable(['command', 'events', 'wall s', 'events/s (wall)', 'CPU s', 'events/CPU s', 'start-up wall s (1 batch)', 'events/s (wall, start-up off)', 'events/CPU s (start-up off)'], rows) + '\n');
    if (process.argv.includes('--storm')) {
      const stormRuns = arg('storm-runs', '3');
      process.stdout.write('\nRecording under the trace_open storm (bench/trace_open.bench.ts):\n\n');
      const out = execFileSync(process.execPath, [join(ROOT, 'dist', 'bench', 'trace_open.bench.js'), '--setups', 'baseline,floor-produce,ig,ig-record,ig-record-none', '--runs', stormRuns, '--latency-runs', '0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
      process.stdout.write(out);
      results['storm'] = out;
      for (const f of ['igb_record_none.igrec', 'igb_record.igrec']) rmSync(join('/dev/shm', f), { force: true });
    }
  } finally {
    if (process.argv.includes('--keep')) process.stderr.write(`kept ${file}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const out = join(RESULTS_DIR, `record-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, JSON.stringify(results, null, 2));
  process.stderr.write(`results: ${out}\n`);
}

await main();
