// The packet codec against its peer in the same run: JSON lines of the same records (what the cli prints and what a
// JSON wire format would carry). trace_open's data source with every data operator (from the image in the local
// store, nothing loaded into the kernel), batches of synthetic records with enrichment fields. Prints CPU per
// record and bytes per record, and the codec's figures as ratios of JSON's.
//
//   node dist/bench/codec.bench.js [--records N] [--batch B] [--gadget NAME]
import { prepareGadget } from '../src/runtime/assemble.js';
import { defaultDataOperators } from '../src/runtime/operators.js';
import { Logger } from '../src/gadget/logger.js';
import { PacketDecoder, PacketEncoder, Kind, baseKind, isIntegerKind, type Batch, type DataSource } from '../src/datasource/index.js';
import { jsonFields, makeJsonEncoder } from '../src/operators/cli/json.js';
import { LineBuffer } from '../src/operators/cli/operator.js';
import { NativeBatchEncoder } from '../src/service/native-wire.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const total = Number(arg('records', '400000'));
const batchSize = Number(arg('batch', '1024'));
const gadget = arg('gadget', 'trace_open');

function fill(b: Batch): void {
  // Plausible records: every static member set through its field (small numbers, short strings), the rest zero, as
  // the kernel fills them (random bytes would make every char array full and every string invalid UTF-8).
  b.buf.fill(0);
  const statics = b.ds.fields.filter((f) => f.storage.type === 'static' && !f.isEmpty && !f.storage.bitSize);
  for (let i = 0; i < b.count; i++) {
    for (const [k, f] of statics.entries()) {
      const s = f.storage as { offs: number; size: number };
      const o = b.offs[i]! + s.offs;
      if (baseKind(f.kind) === Kind.CString || baseKind(f.kind) === Kind.String) {
        b.buf.write(f.name.includes('comm') ? `proc${i % 13}` : `/usr/lib/x86_64-linux-gnu/lib${(i + k) % 97}.so.6`.slice(0, s.size - 1), o);
      } else if (s.size === 8 && f.name.includes('timestamp')) {
        b.buf.writeBigUInt64LE(1_700_000_000_000_000_000n + BigInt(i) * 1000n, o);
      } else if (isIntegerKind(f.kind) && (s.size === 4 || s.size === 8)) {
        b.buf.writeUInt32LE((i * 7919 + k * 31) % 50000, o);
      }
    }
  }
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function measure(what: string, fn: () => number): { us: number; bytes: number } {
  fn(); // warm up
  const t0 = cpuUs();
  let bytes = 0;
  let done = 0;
  while (done < total) { bytes += fn(); done += batchSize; }
  const us = (cpuUs() - t0) / done;
  return { us, bytes: bytes / done };
}

const ctx = await prepareGadget(gadget, { operators: defaultDataOperators(), log: new Logger(), image: { pull: 'never' } });
const ds: DataSource = [...ctx.dataSources.values()][0]!;
const b = ds.newBatch(batchSize);
fill(b);
const fields = jsonFields(ds);
const enc = makeJsonEncoder(fields);
const lines = new LineBuffer();
const jsonRes = measure('json', () => lines.batch(enc, b).length);

const penc = new PacketEncoder();
const pdec = new PacketDecoder();
pdec.decode(penc.encode(b)); // the field table once
const packet = penc.encode(b);
const encRes = measure('encode', () => penc.encode(b).length);
// The daemon's native writer of the same frames (native/src/wire_batch.c), checked byte for byte first.
const nat = NativeBatchEncoder.create(penc, ds);
if (!(nat instanceof NativeBatchEncoder)) throw new Error(`no native encoder: ${nat.reason}`);
if (!nat.encode(b).equals(penc.encode(b))) throw new Error('native and JS frames differ');
const natRes = measure('native encode', () => nat.encode(b).length);
const rawEnc = new PacketEncoder({ fields: () => [] });
const rawRes = measure('encode, record bytes only', () => rawEnc.encode(b).length);
const decRes = measure('decode', () => { pdec.decode(packet); return packet.length; });
const decoded = pdec.decode(packet)[0]!;
const denc = makeJsonEncoder(jsonFields(decoded.ds));
const decJsonRes = measure('decode+json', () => { const d = pdec.decode(packet)[0]!; return lines.batch(denc, d.batch).length; });
void decoded;

const row = (name: string, r: { us: number; bytes: number }) =>
  `| ${name} | ${r.us.toFixed(2)} | ${r.bytes.toFixed(0)} | ${(r.us / jsonRes.us * 100).toFixed(0)}% | ${(r.bytes / jsonRes.bytes * 100).toFixed(0)}% |`;
console.log(`${gadget} / ${ds.name}: ${fields.length} fields in JSON, ${total} records in batches of ${batchSize}, node ${process.version}`);
console.log('| step | CPU µs/record | bytes/record | CPU vs JSON | bytes vs JSON |');
console.log('|---|---|---|---|---|');
console.log(row('JSON lines (peer)', jsonRes));
console.log(row('packet encode', encRes));
console.log(row('packet encode, native (the daemon: wire_batch.c)', natRes));
console.log(row('packet encode, record bytes only (no derived values)', rawRes));
console.log(row('packet decode', decRes));
console.log(row('packet decode + JSON lines', decJsonRes));
