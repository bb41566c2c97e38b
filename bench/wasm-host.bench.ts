// In-process cost of the WASM operator's host path (issue 12), no kernel: a module subscribed to a data source
// is handed batches of real record bytes, as the eBPF operator's reader hands them, and the CPU per record is
// timed against the same batches without a module. Two modules, built here with clang (C SDK):
//   storm    bench/wasm/storm.c: reads two u32 fields, sets one u64 (the trace_open storm's module)
//   dns      gadgets/trace_dns/program.c: decodes a DNS response (one A answer) in the packet bytes that follow
//            each record (the official module: ~20 host calls, 6 strings set per record)
//
//   node dist/bench/wasm-host.bench.js [--records N] [--batch B] [--rounds R]
//
// Rounds alternate the setups; the table gives the median ns per record over the rounds.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Batch, Kind, type DataSource } from '../src/datasource/index.js';
import { GadgetContext } from '../src/gadget/context.js';
import { Logger } from '../src/gadget/logger.js';
import { parseMetadata } from '../src/gadget/metadata.js';
import { WasmOperator } from '../src/operators/wasm/operator.js';
import { fix, markdownTable, median } from './lib/table.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

function build(src: string, dir: string): Buffer {
  const out = join(dir, 'm.wasm');
  execFileSync('clang-16', ['--target=wasm32-wasi', '-mexec-model=reactor', '-O2', '-I', join(ROOT, 'sdk', 'c', 'include'), '-Wl,--strip-debug', '-o', out, src]);
  return readFileSync(out);
}

function context(): GadgetContext {
  return new GadgetContext({ reference: 'bench/wasm-host', digest: 'sha256:0', ebpf: null, wasm: null, annotations: {} }, parseMetadata(''), new Logger('warn', () => {}));
}

/** trace_open's shape: proc.pid u32 @0, fd u32 @4, padding to 64 bytes. */
function openSource(ctx: GadgetContext, n: number): { ds: DataSource; batch: Batch } {
  const ds = ctx.addDataSource('open', 'single');
  ds.staticSize = 64;
  ds.addField({ name: 'proc.pid', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'fd', kind: Kind.Uint32, storage: { type: 'static', offs: 4, size: 4 } });
  const b = Batch.empty(ds, n);
  for (let i = 0; i < n; i++) { b.buf.writeUInt32LE(1000 + i, i * 64); b.buf.writeUInt32LE(i & 255, i * 64 + 4); }
  return { ds, batch: b };
}

/** trace_dns's shape: dns_off u16 @0, data_len u32 @4, then the packet (derived "data" field, as the rest field). */
function dnsSource(ctx: GadgetContext, n: number): { ds: DataSource; batch: Batch } {
  const ds = ctx.addDataSource('dns', 'single');
  ds.staticSize = 8;
  ds.addField({ name: 'dns_off', kind: Kind.Uint16, storage: { type: 'static', offs: 0, size: 2 } });
  ds.addField({ name: 'data_len', kind: Kind.Uint32, storage: { type: 'static', offs: 4, size: 4 } });
  // A response: ethernet 14 + IPv4 20 + UDP 8, then the DNS message for 1234.igbmarker.bench A with one answer.
  const name = [4, ...Buffer.from('1234'), 9, ...Buffer.from('igbmarker'), 5, ...Buffer.from('bench'), 0];
  const msg = Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...name, 0, 1, 0, 1, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
  const pkt = Buffer.concat([Buffer.alloc(42), msg]);
  const rec = 8 + ((pkt.length + 7) & ~7);
  const b = Batch.empty(ds, n);
  const buf = Buffer.alloc(rec * n);
  for (let i = 0; i < n; i++) {
    buf.writeUInt16LE(42, i * rec);
    buf.writeUInt32LE(pkt.length, i * rec + 4);
    pkt.copy(buf, i * rec + 8);
  }
  const batch = Batch.fixed(ds, buf, rec, n);
  for (let i = 0; i < n; i++) batch.lens[i] = 8 + pkt.length;
  void b;
  ds.addField({
    name: 'data', kind: Kind.Bytes,
    storage: { type: 'derived', compute: (bb: Batch, i: number) => bb.buf.subarray(bb.offs[i]! + 8, bb.offs[i]! + 8 + Number(bb.buf.readUInt32LE(bb.offs[i]! + 4))) },
  });
  return { ds, batch };
}

async function main(): Promise<void> {
  const records = Number(arg('records', '200000'));
  const per = Number(arg('batch', '64'));
  const rounds = Number(arg('rounds', '7'));
  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-wasmhost-'));
  const mods = { storm: build(join(ROOT, 'bench', 'wasm', 'storm.c'), dir), dns: build(join(ROOT, 'gadgets', 'trace_dns', 'program.c'), dir) };
  rmSync(dir, { recursive: true, force: true });
  const rows: string[][] = [];
  for (const [name, bin] of Object.entries(mods)) {
    const make = async (withModule: boolean) => {
      const ctx = context();
      const src = name === 'storm' ? openSource(ctx, per) : dnsSource(ctx, per);
      let op: WasmOperator | undefined;
      if (withModule) { op = await WasmOperator.create(ctx, bin); op.preStart(); op.start(); }
      // The batch is emitted again and again (the module writes the same records each time, as a new batch would).
      const cols = src.batch.columns;
      const emit = () => { cols.length = 0; src.batch.liveCount = per; src.ds.emit(src.batch); };
      return { emit, op };
    };
    const setups = [await make(false), await make(true)];
    const ns: number[][] = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (const [k, s] of setups.entries()) {
        const t0 = process.cpuUsage();
        for (let n = 0; n < records; n += per) s.emit();
        const t = process.cpuUsage(t0);
        ns[k]!.push(((t.user + t.system) * 1000) / records);
      }
    }
    for (const s of setups) if (s.op) { s.op.stop(); s.op.postStop(); }
    const extra = ns[1]!.map((x, i) => x - ns[0]![i]!);
    rows.push([name, fix(median(ns[0]!), 1), fix(median(ns[1]!), 1), fix(median(extra), 1), extra.map((x) => fix(x, 0)).join(' ')]);
  }
  process.stdout.write(`### WASM host path in-process (${records} records x ${rounds} rounds, ${per} per batch)\n\n`
    + markdownTable(['module', 'ns/record without', 'ns/record with', 'extra ns/record (median)', 'extra per round'], rows) + '\n');
}

main().catch((e: unknown) => { process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`); process.exit(1); });
