// A small data source shaped like a tracer's record (no kernel needed), for operator unit tests.
import { Batch, DataSource, FieldFlag, Kind } from '../../src/datasource/index.js';
import { staticAt } from './reader-batch.js';

export interface Rec { ts: bigint; pid: number; comm: string; err: number; flags: number; mntns: bigint }

/** struct { u64 timestamp_raw; u32 pid; char comm[16]; u32 error_raw; u32 flags_raw; u64 mntns_id; } = 48 bytes */
export function makeDs(type: 'single' | 'array' = 'single', config = {}): DataSource {
  const ds = new DataSource('open', type, config);
  ds.staticSize = 48;
  const st = staticAt;
  ds.addField({ name: 'timestamp_raw', kind: Kind.Uint64, tags: ['type:gadget_timestamp'], annotations: { template: 'timestamp' }, flags: FieldFlag.StaticMember, storage: st(0, 8) });
  ds.addField({ name: 'pid', kind: Kind.Uint32, tags: ['type:gadget_pid'], annotations: { template: 'pid' }, storage: st(8, 4) });
  ds.addField({ name: 'comm', kind: Kind.CString, tags: ['type:gadget_comm'], annotations: { template: 'comm' }, storage: st(12, 16) });
  ds.addField({ name: 'error_raw', kind: Kind.Uint32, tags: ['type:gadget_errno'], storage: st(28, 4) });
  ds.addField({ name: 'flags_raw', kind: Kind.Uint32, tags: ['type:gadget_file_flags'], storage: st(32, 4) });
  ds.addField({ name: 'mntns_id', kind: Kind.Uint64, tags: ['type:gadget_mntns_id'], annotations: { template: 'mntns_id' }, storage: st(40, 8) });
  return ds;
}

export function makeBatch(ds: DataSource, recs: Rec[]): Batch {
  const b = ds.newBatch(recs.length);
  recs.forEach((r, i) => {
    const o = i * 48;
    b.buf.writeBigUInt64LE(r.ts, o);
    b.buf.writeUInt32LE(r.pid, o + 8);
    b.buf.write(r.comm, o + 12);
    b.buf.writeUInt32LE(r.err, o + 28);
    b.buf.writeUInt32LE(r.flags, o + 32);
    b.buf.writeBigUInt64LE(r.mntns, o + 40);
  });
  return b;
}

export const RECS: Rec[] = [
  { ts: 1000n, pid: 42, comm: 'cat', err: 0, flags: 0o2000000, mntns: 4026531832n },
  { ts: 2000n, pid: 7, comm: 'bash', err: 2, flags: 0o101, mntns: 4026531832n },
  { ts: 3000n, pid: 1234, comm: 'catalina', err: 13, flags: 2, mntns: 4026532177n },
];

export function capture(): { out: string[]; sink: { write(s: string): void; isTTY: boolean } } {
  const out: string[] = [];
  return { out, sink: { write: (s: string) => { out.push(s); }, isTTY: false } };
}

/** A seeded xorshift32 generator in [0, 1): random tests that print their seed can be replayed exactly. */
export function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}
