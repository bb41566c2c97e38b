// A gadget-service client written only from upstream's api.proto and the way upstream's client reads events
// (pkg/runtime/grpc: GadgetInfo builds the data sources by id; each GadgetPayload event is a GadgetData or
// GadgetDataArray whose DataElement payloads are sliced per field: payload[payloadIndex][offs:offs+size] when size
// > 0, else the whole payload; numbers little-endian, CString up to the first NUL). It shares no code with ig's
// service or packet codec: the protobuf inside payloads is read by the small reader below. Test-only.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { repoRoot } from './ig.js';

const KIND = { Bool: 1, Int8: 2, Int16: 3, Int32: 4, Int64: 5, Uint8: 6, Uint16: 7, Uint32: 8, Uint64: 9, Float32: 10, Float64: 11, String: 12, CString: 13, Bytes: 14 };
const ARRAY = 0x10000000;
const FLAG_EMPTY = 1;
const EV_PAYLOAD = 0;
const EV_INFO = 4;
const LOG_SHIFT = 16;

export interface UpField { name: string; fullName: string; index: number; payloadIndex: number; offs: number; size: number; flags: number; kind: number; parent: number }
export interface UpDataSource { id: number; name: string; type: number; fields: UpField[] }
export type UpValue = number | bigint | string | boolean | Buffer | (number | bigint)[];
export interface UpEvent { seq: number; ds: string; values: Record<string, UpValue> }

// --- a minimal protobuf wire reader (varints and length-delimited fields are all these messages use) ------------

function readVarint(b: Buffer, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= b.length) throw new Error('protobuf: truncated varint');
    const byte = b[pos++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** The length-delimited values of field `want` of a message, in order (other fields skipped). */
function bytesFields(msg: Buffer, want: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < msg.length) {
    let key: number;
    [key, pos] = readVarint(msg, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) { [, pos] = readVarint(msg, pos); continue; }
    if (wire === 1) { pos += 8; continue; }
    if (wire === 5) { pos += 4; continue; }
    if (wire !== 2) throw new Error(`protobuf: unexpected wire type ${wire}`);
    let len: number;
    [len, pos] = readVarint(msg, pos);
    if (pos + len > msg.length) throw new Error('protobuf: truncated bytes field');
    if (field === want) out.push(msg.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

function scalar(b: Buffer, kind: number): number | bigint | boolean {
  switch (kind) {
    case KIND.Bool: return b[0] !== 0;
    case KIND.Int8: return b.readInt8(0);
    case KIND.Uint8: return b.readUInt8(0);
    case KIND.Int16: return b.readInt16LE(0);
    case KIND.Uint16: return b.readUInt16LE(0);
    case KIND.Int32: return b.readInt32LE(0);
    case KIND.Uint32: return b.readUInt32LE(0);
    case KIND.Int64: return b.readBigInt64LE(0);
    case KIND.Uint64: return b.readBigUInt64LE(0);
    case KIND.Float32: return b.readFloatLE(0);
    case KIND.Float64: return b.readDoubleLE(0);
  }
  throw new Error(`kind ${kind} is no scalar`);
}

const SIZES: Record<number, number> = { 1: 1, 2: 1, 6: 1, 3: 2, 7: 2, 4: 4, 8: 4, 10: 4, 5: 8, 9: 8, 11: 8 };

/** One field's value as upstream's accessors read it (a wrong length is an error there too). */
function fieldValue(f: UpField, payloads: Buffer[]): UpValue | undefined {
  if (f.flags & FLAG_EMPTY) return undefined;
  const p = payloads[f.payloadIndex];
  if (!p) throw new Error(`field ${f.fullName}: payload ${f.payloadIndex} missing (${payloads.length} payloads)`);
  if (f.size > 0 && f.offs + f.size > p.length) throw new Error(`field ${f.fullName}: [${f.offs}:${f.offs + f.size}] outside payload ${f.payloadIndex} of ${p.length} bytes`);
  const raw = f.size > 0 ? p.subarray(f.offs, f.offs + f.size) : p;
  if (f.kind & ARRAY) {
    const el = f.kind & ~ARRAY;
    const es = SIZES[el]!;
    const out: (number | bigint)[] = [];
    for (let o = 0; o + es <= raw.length; o += es) out.push(scalar(raw.subarray(o, o + es), el) as number | bigint);
    return out;
  }
  if (f.kind === KIND.CString) { const z = raw.indexOf(0); return raw.toString('utf8', 0, z < 0 ? raw.length : z); }
  if (f.kind === KIND.String) return raw.toString('utf8');
  if (f.kind === KIND.Bytes) return Buffer.from(raw);
  const size = SIZES[f.kind];
  if (size === undefined) return undefined;
  if (raw.length !== size) throw new Error(`field ${f.fullName}: ${raw.length} bytes for a value of ${size}`);
  return scalar(raw, f.kind);
}

export interface UpstreamRun {
  events: UpEvent[];
  /** Events missing by sequence number (upstream's "messages dropped" warning). */
  gaps: number;
  /** Event types this client does not know (ig's batch form would land here). */
  unknownTypes: number[];
  logs: string[];
  dataSources: Map<number, UpDataSource>;
  /** Decoding errors (upstream's client logs and skips them). */
  errors: string[];
  ended: Promise<grpc.StatusObject | null>;
  stop(): void;
}

let pkg: grpc.GrpcObject | undefined;
function api(): grpc.GrpcObject {
  if (!pkg) {
    const def = protoLoader.loadSync(join(repoRoot(), 'src', 'service', 'api.proto'), { keepCase: true, longs: String, enums: Number, defaults: true, oneofs: true, bytes: Buffer });
    pkg = grpc.loadPackageDefinition(def)['api'] as grpc.GrpcObject;
  }
  return pkg;
}

type Ctor = grpc.ServiceClientConstructor;

let root: protobuf.Root | undefined;
/** GadgetInfo is a plain message of the proto (what is under test is the events' payload layout). */
function decodeInfo(b: Buffer): { dataSources: UpDataSource[] } {
  root ??= protobuf.loadSync(join(repoRoot(), 'src', 'service', 'api.proto'));
  const t = root.lookupType('api.GadgetInfo');
  return t.toObject(t.decode(b), { longs: Number, enums: Number, defaults: true, arrays: true }) as { dataSources: UpDataSource[] };
}

/** RunGadget (run request, or attach with `attachId`) as upstream's client does it: no ig-specific header. */
export function upstreamRun(target: string, req: { imageName?: string; paramValues?: Record<string, string>; attachId?: string }): UpstreamRun {
  const Client = api()['GadgetManager'] as Ctor;
  const client = new Client(target, grpc.credentials.createInsecure());
  const call = (client as unknown as { RunGadget(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, { type: number; seq: number; payload: Buffer; dataSourceID: number }> }).RunGadget(new grpc.Metadata());
  call.write(req.attachId
    ? { attachRequest: { id: req.attachId, version: 1 } }
    : { runRequest: { imageName: req.imageName, paramValues: req.paramValues ?? {}, args: [], version: 1, logLevel: 3, timeout: '0' } });
  const r: UpstreamRun = {
    events: [], gaps: 0, unknownTypes: [], logs: [], dataSources: new Map(), errors: [],
    ended: new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => { client.close(); resolve(s); });
    }),
    stop: () => { call.write({ stopRequest: {} }); setTimeout(() => call.cancel(), 2000).unref(); },
  };
  call.on('error', () => undefined); // the status above carries the outcome
  let expectedSeq = 1;
  call.on('data', (ev) => {
    const type = ev.type >>> 0;
    if (type === EV_INFO) {
      for (const ds of decodeInfo(ev.payload).dataSources) r.dataSources.set(ds.id, ds);
      return;
    }
    if (type >= 1 << LOG_SHIFT) { r.logs.push(ev.payload.toString()); return; }
    if (type !== EV_PAYLOAD) { r.unknownTypes.push(type); return; }
    if (ev.seq !== expectedSeq) r.gaps += ev.seq - expectedSeq;
    expectedSeq = ev.seq + 1;
    const ds = r.dataSources.get(ev.dataSourceID);
    if (!ds) { r.errors.push(`payload for unknown data source ${ev.dataSourceID}`); return; }
    try {
      // GadgetData.data (3) is one DataElement; GadgetDataArray.dataArray (3) repeats it.
      const elements = bytesFields(ev.payload, 3);
      for (const el of elements) {
        const payloads = bytesFields(el, 1);
        const values: Record<string, UpValue> = {};
        for (const f of ds.fields) { const v = fieldValue(f, payloads); if (v !== undefined) values[f.fullName] = v; }
        r.events.push({ seq: ev.seq, ds: ds.name, values });
      }
    } catch (e) {
      r.errors.push((e as Error).message);
    }
  });
  return r;
}
