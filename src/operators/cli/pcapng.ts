// -o pcap-ng: packets as a pcap-ng stream (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/) that
// tcpdump -r and tshark -r read: a Section Header Block, an Interface Description Block the first time each
// interface appears, and an Enhanced Packet Block per packet. The data source says where things are, as
// upstream: `pcap.payload` (the packet bytes), `pcap.timestamp` (the time), `pcap.packet-length` (the length on
// the wire); fields annotated `pcap.interface-key` identify an interface, `pcap.interface-var` ones describe it.
import { readdirSync, readFileSync } from 'node:fs';
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { GadgetError } from '../../gadget/context.js';

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** LINKTYPE_ETHERNET: TC sees Ethernet frames. */
const LINKTYPE_ETHERNET = 1;
const OPT_END = 0, OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2, IF_DESCRIPTION = 3, IF_TSRESOL = 9;
/** if_tsresol 9: timestamps count nanoseconds. */
const TSRESOL_NS = 9;

const pad4 = (n: number) => (n + 3) & ~3;

/** One option (code, length, value padded to 4). */
function option(code: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4 + pad4(value.length));
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  value.copy(b, 4);
  return b;
}
const endOfOptions = () => option(OPT_END, Buffer.alloc(0));

/** A block: type, total length, body, total length again. */
function block(type: number, body: Buffer): Buffer {
  const len = 12 + body.length;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  body.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}

export function sectionHeader(app: string): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  head.writeUInt16LE(1, 4);                  // major
  head.writeUInt16LE(0, 6);                  // minor
  head.writeBigInt64LE(-1n, 8);              // section length: not given
  return block(BT_SHB, Buffer.concat([head, option(SHB_USERAPPL, Buffer.from(app)), endOfOptions()]));
}

export function interfaceDescription(name: string, description: string): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(LINKTYPE_ETHERNET, 0);
  head.writeUInt32LE(0, 4);                  // snaplen: no limit
  const opts = [option(IF_NAME, Buffer.from(name))];
  if (description) opts.push(option(IF_DESCRIPTION, Buffer.from(description)));
  opts.push(option(IF_TSRESOL, Buffer.from([TSRESOL_NS])), endOfOptions());
  return block(BT_IDB, Buffer.concat([head, ...opts]));
}

export function enhancedPacket(ifId: number, tsNs: bigint, data: Buffer, origLen: number, comment?: string): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(ifId, 0);
  head.writeUInt32LE(Number((tsNs >> 32n) & 0xffffffffn), 4);
  head.writeUInt32LE(Number(tsNs & 0xffffffffn), 8);
  head.writeUInt32LE(data.length, 12);
  head.writeUInt32LE(Math.max(origLen, data.length), 16);
  const body = Buffer.alloc(pad4(data.length));
  data.copy(body);
  const parts: Buffer[] = [head, body];
  if (comment) parts.push(option(OPT_COMMENT, Buffer.from(comment)), endOfOptions());
  return block(BT_EPB, Buffer.concat(parts));
}

/** Interface names by index in ig's network namespace (host-side interfaces), read once. */
function hostInterfaceNames(): Map<number, string> {
  const out = new Map<number, string>();
  try {
    for (const n of readdirSync('/sys/class/net')) {
      try { out.set(Number(readFileSync(`/sys/class/net/${n}/ifindex`, 'utf8')), n); } catch { /* went away meanwhile: no name */ }
    }
  } catch { /* no sysfs: interfaces are named by index */ }
  return out;
}

function byAnnotation(ds: DataSource, key: string): Field[] {
  return ds.fields.filter((f) => f.annotation(key) !== undefined && f.annotation(key) !== 'false');
}

function requiredField(ds: DataSource, ann: string): Field {
  const name = ds.annotations.get(ann);
  const f = name ? ds.getField(name) : undefined;
  if (!f) throw new GadgetError(`-o pcap-ng: data source ${ds.name} has no ${ann} annotation naming one of its fields`);
  return f;
}

/** The wall-clock ns of `pcap.timestamp`: its raw u64 when the field is the formatted text of one. */
function timestampReader(f: Field): (b: Batch, i: number) => bigint {
  const raw = f.derivation?.kind === 'wallclock-text' ? f.derivation.input : f;
  return (b, i) => {
    const v = raw.get(b, i);
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number') return BigInt(Math.trunc(v));
    const ms = Date.parse(String(v));
    return Number.isNaN(ms) ? 0n : BigInt(ms) * 1000000n;
  };
}

export interface PcapNgWriter { write(s: Buffer): void }

/** A renderer writing the data source's packets as pcap-ng; the section header goes out before the first batch. */
export function pcapngRenderer(ds: DataSource, sink: PcapNgWriter): ((b: Batch) => void) & { begin: () => void } {
  const payload = requiredField(ds, 'pcap.payload');
  const ts = timestampReader(requiredField(ds, 'pcap.timestamp'));
  const origLen = requiredField(ds, 'pcap.packet-length');
  const keys = byAnnotation(ds, 'pcap.interface-key');
  const vars = byAnnotation(ds, 'pcap.interface-var');
  const ifindex = ds.getField('ifindex');
  const interfaces = new Map<string, number>();
  let names: Map<number, string> | undefined;
  let started = false;
  const begin = () => {
    if (started) return;
    started = true;
    sink.write(sectionHeader('ig (Inspektor Gadget)'));
  };
  const str = (f: Field, b: Batch, i: number) => {
    const v = f.get(b, i);
    return v === undefined || v === null ? '' : String(v);
  };
  const render = (b: Batch) => {
    begin();
    const out: Buffer[] = [];
    for (let k = 0; k < b.liveCount; k++) {
      const i = b.live[k]!;
      const key = keys.map((f) => str(f, b, i)).join('\0');
      let id = interfaces.get(key);
      if (id === undefined) {
        id = interfaces.size;
        interfaces.set(key, id);
        const idx = ifindex ? Number(ifindex.get(b, i)) : NaN;
        names ??= hostInterfaceNames();
        const desc = vars.map((f) => [f.annotation('pcap.interface-var'), str(f, b, i)] as const).filter(([, v]) => v !== '').map(([n, v]) => `${n}=${v}`);
        const name = Number.isFinite(idx) ? (names.get(idx) ?? `ifindex${idx}`) : `if${id}`;
        out.push(interfaceDescription(name, desc.join(' ')));
      }
      const data = payload.get(b, i);
      const bytes = Buffer.isBuffer(data) ? data : data instanceof Uint8Array ? Buffer.from(data) : Buffer.alloc(0);
      out.push(enhancedPacket(id, ts(b, i), bytes, Number(origLen.get(b, i) ?? bytes.length)));
    }
    if (out.length) sink.write(Buffer.concat(out));
  };
  return Object.assign(render, { begin });
}
