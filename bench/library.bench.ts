// The library's iterator (issue 18): how many events per second `for await (const e of runGadget(...))` hands to a
// consumer that reads two fields, against the floor in the same run (a plain loop reading the same two fields
// through the same accessors: no queue, no views, no promises). trace_open's data source with every data operator
// the library runs (from the image in the local store; nothing is loaded into the kernel), synthetic batches as the
// ring hands them over, then the same consumer on a real storm (root: trace_open in the kernel, filtered by
// command), where the kernel and the pipeline bound the rate and what the consumer misses is counted lost.
//
//   node dist/bench/library.bench.js [--events N] [--batch B] [--storm N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareGadget } from '../src/runtime/assemble.js';
import { Logger } from '../src/gadget/logger.js';
import { Batch, type DataSource } from '../src/datasource/index.js';
import { EventQueue } from '../src/lib/event-queue.js';
import { viewClass, viewFields } from '../src/lib/views.js';
import { libraryOperators } from '../src/lib/run.js';
import { runGadget } from '../src/lib/index.js';
import { markdownTable, int, fix, median } from './lib/table.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const total = Number(arg('events', '3000000'));
const batchSize = Number(arg('batch', '4096'));
const stormN = Number(arg('storm', '1000000'));
const jsonOut = arg('json', '');
const ROUNDS = 5;

const ctx = await prepareGadget('trace_open', { operators: libraryOperators(), log: new Logger(), image: { pull: 'never' } });
const ds: DataSource = ctx.dataSources.get('open')!;
const pidF = ds.getField('proc.pid')!;
const fnameF = ds.getField('fname')!;
const commF = ds.getField('proc.comm')!;

// One batch of records as the ring hands them over (only the members the consumer reads matter).
const proto = ds.newBatch(batchSize);
for (let i = 0; i < batchSize; i++) {
  pidF.set(proto, i, 1000 + (i % 50));
  commF.set(proto, i, 'cat');
  fnameF.set(proto, i, `/usr/lib/x86_64-linux-gnu/lib${i % 97}.so.6`);
}
const batches = Math.ceil(total / batchSize);
const fresh = () => new Batch(ds, proto.buf, proto.offs, proto.lens, proto.count);

function cpuMs(): number { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }

async function measure(fn: () => Promise<number>): Promise<{ perSec: number; cpuPerSec: number }> {
  const w0 = performance.now();
  const c0 = cpuMs();
  const n = await fn();
  const wall = performance.now() - w0;
  const cpu = cpuMs() - c0;
  return { perSec: (n / wall) * 1000, cpuPerSec: (n / cpu) * 1000 };
}

// The floor: the two fields read straight through the accessors, batch after batch.
async function floor(): Promise<number> {
  let n = 0;
  let sum = 0;
  for (let k = 0; k < batches; k++) {
    const b = fresh();
    for (let j = 0; j < b.liveCount; j++) {
      const i = b.live[j]!;
      sum += (pidF.get(b, i) as number) + (fnameF.get(b, i) as string).length;
      n++;
    }
  }
  if (sum === 0) throw new Error('nothing read');
  return n;
}

const View = viewClass(ds, viewFields(ds));
/** The library's queue fed as the collector feeds it, drained by `for await` (single events or whole batches). */
async function library(mode: 'events' | 'batches'): Promise<number> {
  const q = new EventQueue({ pause: () => true }, 64 << 20);
  let pushed = 0;
  // The producer keeps a few batches ahead of the consumer, as the reader's bounded queue does.
  const feed = () => { while (pushed < batches && pushed - consumedBatches < 4) { q.push(fresh(), View); pushed++; } if (pushed === batches) q.end(); };
  let consumedBatches = 0;
  let n = 0;
  let sum = 0;
  feed();
  const it = { [Symbol.asyncIterator]: () => ({ next: () => q.next() }) };
  const bit = { [Symbol.asyncIterator]: () => ({ next: () => q.nextBatch() }) };
  if (mode === 'events') {
    let inBatch = 0;
    for await (const e of it as AsyncIterable<{ proc: { pid: number }; fname: string }>) {
      sum += e.proc.pid + e.fname.length;
      n++;
      if (++inBatch === batchSize) { inBatch = 0; consumedBatches++; feed(); }
    }
  } else {
    for await (const b of bit as AsyncIterable<Iterable<{ proc: { pid: number }; fname: string }>>) {
      for (const e of b) { sum += e.proc.pid + e.fname.length; n++; }
      consumedBatches++;
      feed();
    }
  }
  if (sum === 0) throw new Error('nothing read');
  return n;
}

const rows: { name: string; perSec: number[]; cpuPerSec: number[] }[] = [
  { name: 'floor: accessors in a plain loop', perSec: [], cpuPerSec: [] },
  { name: 'for await (const e of run)', perSec: [], cpuPerSec: [] },
  { name: 'for await (const b of run.batches()) for (const e of b)', perSec: [], cpuPerSec: [] },
];
await floor(); await library('events'); await library('batches'); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, fn] of [floor, () => library('events'), () => library('batches')].entries()) {
    const m = await measure(fn);
    rows[k]!.perSec.push(m.perSec);
    rows[k]!.cpuPerSec.push(m.cpuPerSec);
  }
}
const floorMed = median(rows[0]!.perSec);
console.log(`\n## The library iterator: ${int(batches * batchSize)} trace_open events in batches of ${batchSize}, consumer reads proc.pid and fname (median of ${ROUNDS})\n`);
console.log(markdownTable(['consumer', 'events/s (wall)', 'events/s per CPU s', 'of the floor'],
  rows.map((r) => [r.name, int(median(r.perSec)), int(median(r.cpuPerSec)), fix(median(r.perSec) / floorMed, 2)])));

// A real storm: the kernel writes, the pipeline runs, the consumer reads two fields of each event.
let storm: { opens: number; delivered: number; lost: number; seconds: number; perSec: number } | undefined;
if (process.getuid?.() === 0 && stormN > 0) {
  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-library-'));
  try {
    const src = join(dir, 'iglibbench.c');
    writeFileSync(src, '#include <fcntl.h>\n#include <stdlib.h>\n#include <unistd.h>\nint main(int c, char **v) { long n = atol(v[1]); for (long i = 0; i < n; i++) { int fd = open("/etc/hostname", O_RDONLY); if (fd >= 0) close(fd); } return 0; }\n');
    const bin = join(dir, 'iglibbench');
    const cc = spawnSync('gcc', ['-O2', '-static', '-o', bin, src], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
    const run = runGadget('trace_open', { host: true, params: { comm: 'iglibbench' }, timeoutMs: 120000 });
    await run.started;
    let delivered = 0;
    let sum = 0;
    let t0 = 0;
    let last = 0;
    const child = spawn(bin, [String(stormN)], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let over = false;
    void exited.then(() => setTimeout(() => { over = true; void run.stop(); }, 1000));
    for await (const b of run.batches()) {
      if (t0 === 0) t0 = performance.now();
      for (const e of b as Iterable<{ proc: { pid: number }; fname: string }>) { sum += e.proc.pid + e.fname.length; delivered++; }
      last = performance.now();
      if (over) break;
    }
    await run.stop();
    const seconds = (last - t0) / 1000;
    storm = { opens: stormN, delivered, lost: run.lost, seconds, perSec: delivered / seconds };
    console.log(`\n## A real storm: ${int(stormN)} opens, trace_open filtered by command in the kernel, consumer reads proc.pid and fname\n`);
    console.log(markdownTable(['delivered', 'lost (counted)', 'first to last event', 'events/s delivered'],
      [[int(delivered), int(run.lost), `${fix(seconds, 2)} s`, int(storm.perSec)]]));
    if (sum === 0 && delivered > 0) throw new Error('nothing read');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ batch: batchSize, events: batches * batchSize, rows: rows.map((r) => ({ name: r.name, perSec: median(r.perSec), cpuPerSec: median(r.cpuPerSec) })), storm }, null, 2));
process.exit(0);
