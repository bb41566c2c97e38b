// Kernel-side floor for the trace_open benchmark.
//
//   node [--expose-gc] dist/bench/lib/floor.js --pid N [--read | --discard] [--ring-bytes B] [--linger-us U] [--max-latency-ms M] [--gc-every K]
//
// Opens the trace_open image's eBPF object through the addon, sets targ_pid, loads it and attaches every
// program with attachAuto. Without --read nobody opens a reader: the ring fills after a few hundred
// events and the BPF side only counts drops, which is the kernel cost of the programs alone.
// With --discard a native thread hands each record's space back to the kernel without reading it (nor calling
// JS): every event is produced, nobody reads it. This is the floor the benchmark's target is measured against.
// With --read a native ring reader with ig's own options drains the ring into a JS callback that only
// counts records (the kernel cost of producing every event, plus the cheapest possible consumer).
//
// --ring-bytes/--linger-us/--max-latency-ms change the ring size and the reader's options (defaults: the gadget's
// ring size and ig's options) to see what they do to the kernel side and to losses.
// --gc-every K (needs node --expose-gc) forces a GC every K batches: shows how much of the reader's RSS is batch
// buffers that only a GC frees (the addon's batches are external Buffers that V8 does not count).
// Prints "ready" on stdout once attached; on SIGINT/SIGTERM it stops, prints one JSON line
// {"lost":…,"records":…,"batches":…}, detaches, closes the object and exits.
import { getGadgetImage } from '../../src/oci/index.js';
import { native } from '../../src/bpf/native.js';
import { Btf } from '../../src/bpf/btf/btf.js';
import type { LinkHandle, ReaderHandle } from '../../src/bpf/native-api.js';

interface FloorArgs { pid: number; read: boolean; discard: boolean; image: string; ringBytes?: number; lingerUs: number; maxLatencyMs: number; gcEvery: number }

function parseArgs(argv: string[]): FloorArgs {
  const out: FloorArgs = { pid: 0, read: false, discard: false, image: 'trace_open', lingerUs: 1000, maxLatencyMs: 1, gcEvery: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--pid') out.pid = Number(argv[++i]);
    else if (a === '--read') out.read = true;
    else if (a === '--discard') out.discard = true;
    else if (a === '--image') out.image = String(argv[++i]);
    else if (a === '--ring-bytes') out.ringBytes = Number(argv[++i]);
    else if (a === '--linger-us') out.lingerUs = Number(argv[++i]);
    else if (a === '--max-latency-ms') out.maxLatencyMs = Number(argv[++i]);
    else if (a === '--gc-every') out.gcEvery = Number(argv[++i]);
    else throw new Error(`floor: unknown argument ${a}`);
  }
  if (!Number.isInteger(out.pid) || out.pid <= 0) throw new Error('floor: --pid N is required');
  return out;
}

function sumPerCpuU64(v: Buffer | null): number {
  if (!v) return 0;
  let sum = 0n;
  for (let o = 0; o + 8 <= v.length; o += 8) sum += v.readBigUInt64LE(o);
  return Number(sum);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const image = await getGadgetImage(args.image, { pull: 'never' });
  if (!image.ebpf) throw new Error(`floor: image ${args.image} has no eBPF object`);

  // A ring paced by ig's buffer.h wakes its reader only now and then: read it as ig does (a lingering reader would
  // wait up to a fill level, or its 100 ms timeout, for what came unannounced).
  const paced = Btf.fromElf(image.ebpf).markers().pacedRings?.includes('events') ?? false;
  const obj = native.open(image.ebpf, 'trace_open');
  const pid = Buffer.alloc(4);
  pid.writeUInt32LE(args.pid);
  native.setVar(obj, 'targ_pid', pid);
  if (args.ringBytes) native.setMapMaxEntries(obj, 'events', args.ringBytes);
  native.load(obj);

  const links: LinkHandle[] = [];
  for (const p of native.programs(obj)) links.push(native.attachAuto(obj, p.name));

  let records = 0;
  let reader: ReaderHandle | undefined;
  if (args.discard) {
    // Every event is produced and its space handed back to the kernel, but no record is read.
    reader = native.ringOpen(native.mapFd(obj, 'events'), () => { /* never called */ }, { maxLatencyMs: args.maxLatencyMs, lingerUs: args.lingerUs, discard: true, paced });
  } else if (args.read) {
    // Default: the same reader options as ig's eBPF operator (src/operators/ebpf/operator.ts).
    const gc = (globalThis as { gc?: () => void }).gc;
    if (args.gcEvery > 0 && !gc) throw new Error('floor: --gc-every needs node --expose-gc');
    let calls = 0;
    reader = native.ringOpen(native.mapFd(obj, 'events'), (_buf, count) => {
      records += count;
      if (args.gcEvery > 0 && ++calls % args.gcEvery === 0) gc!();
    }, { maxLatencyMs: args.maxLatencyMs, lingerUs: args.lingerUs, paced });
  }
  process.stdout.write(`ready programs=${links.length}\n`);

  const keepAlive = setInterval(() => { /* keep the event loop alive */ }, 1 << 30);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(keepAlive);
    for (const l of links.splice(0)) native.linkDestroy(l);
    let batches = 0;
    if (reader) {
      const st = native.readerStop(reader);
      batches = st.batches;
      await new Promise((r) => setImmediate(r));
    }
    const lost = sumPerCpuU64(native.mapLookup(native.mapFd(obj, 'events_lost_samples'), Buffer.alloc(4), 8));
    native.close(obj);
    process.stdout.write(`${JSON.stringify({ lost, records, batches })}\n`, () => process.exit(0));
  };
  process.on('SIGINT', () => { void stop(); });
  process.on('SIGTERM', () => { void stop(); });
}

main().catch((e: unknown) => {
  process.stderr.write(`floor: ${(e as Error).message}\n`);
  process.exit(1);
});
