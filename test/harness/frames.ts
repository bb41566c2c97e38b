// Comparing batch frames in tests: byte for byte, or, for fields whose memo keeps a value for its TTL, value by value.
import assert from 'node:assert/strict';
import { PacketDecoder } from '../../src/datasource/codec.js';
import type { GadgetRun } from '../../src/service/gadget-run.js';
import type { EventWriter } from '../../src/service/client-stream.js';
import { EventType } from '../../src/service/consts.js';
import type { ApiGadgetEvent } from '../../src/service/proto.js';

/** A client's gRPC stream as the run sees it: every write completes at once (a fast client); keeps the field
 * tables (the first GadgetBatch) and every batch frame after them. */
export class FrameCollector implements EventWriter {
  tables: Buffer | undefined;
  readonly frames: Buffer[] = [];
  write(ev: ApiGadgetEvent, cb?: (err?: Error | null) => void): boolean {
    if (ev.type === EventType.GadgetBatch) {
      if (this.tables === undefined) this.tables = Buffer.from(ev.payload);
      else this.frames.push(ev.payload);
    }
    if (cb) setImmediate(() => cb(null));
    return true;
  }
  end(): void { /* nothing to flush */ }
  emit(): void { /* errors are asserted through the run's outcome */ }
}

/** Frames equal byte for byte; with `ttlFields`, frames whose only differences are in those fields pass too. */
export function assertSameFrames(got: Buffer[], want: Buffer[], what: string, tables?: Buffer, ttlFields?: Set<string>): void {
  assert.equal(got.length, want.length, `${what}: batch count`);
  for (let k = 0; k < want.length; k++) {
    if (got[k]!.equals(want[k]!)) continue;
    const diff = tables ? firstDifference(tables, got[k]!, want[k]!, ttlFields) : '';
    if (ttlFields && diff === 'same values') continue;
    assert.fail(`${what}: batch ${k} differs (${got[k]!.length} bytes native, ${want[k]!.length} JS): ${diff}`);
  }
}

/** Fields whose memo keeps a value for a while (derivations with a TTL), by full name. */
export function ttlFieldsOf(run: GadgetRun): Set<string> {
  const out = new Set<string>();
  for (const ds of run.ctx.dataSources.values()) {
    for (const f of ds.fields) {
      for (let x: typeof f | undefined = f; x; x = x.parent) if (x.derivation?.kind === 'computed' && x.derivation.ttlMs) { out.add(f.fullName); break; }
    }
  }
  return out;
}

/** The first field value that differs between two frames of the same records, skipping `skip` (failure message). */
export function firstDifference(tables: Buffer, a: Buffer, b: Buffer, skip?: Set<string>): string {
  const da = new PacketDecoder();
  const db = new PacketDecoder();
  da.decode(tables);
  db.decode(tables);
  const [x] = da.decode(a);
  const [y] = db.decode(b);
  if (!x || !y) return 'no batch';
  for (let k = 0; k < x.batch.liveCount; k++) {
    for (const f of x.ds.fields) {
      if (skip?.has(f.fullName)) continue;
      const g = y.ds.getField(f.fullName);
      const u = f.get(x.batch, x.batch.live[k]!);
      const v = g?.get(y.batch, y.batch.live[k]!);
      if (JSON.stringify(u, (_k, w) => (typeof w === 'bigint' ? String(w) : w)) !== JSON.stringify(v, (_k, w) => (typeof w === 'bigint' ? String(w) : w))) return `record ${k} ${f.fullName}: native ${String(u)}, JS ${String(v)}`;
    }
  }
  return 'same values';
}
