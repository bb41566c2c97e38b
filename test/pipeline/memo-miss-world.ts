// The data source of the memo-miss tests over src/bpf/testdata/ringbuf.bpf.c's records (struct event { u32 pid;
// u32 tid; u64 ts; u32 ppid; u32 kind; char comm[16]; }, 40 bytes): `label` is computed in JS from tid, a memo
// keyed by tid's bytes that is empty until JS fills it, so the first record after an invalidation misses.
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject } from '../../src/bpf/object.js';
import { compileBpf, removeBuildDir, setupKernel, u32 } from '../../src/bpf/testutil.js';
import { DataSource, Kind, type Batch } from '../../src/datasource/index.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { compileNativePlan } from '../../src/operators/cli/native-plan.js';

export const MEMO_MISS_RECORD_SIZE = 40;

export function memoMissWorld(): DataSource {
  const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });
  const ds = new DataSource('t', 'single');
  ds.staticSize = MEMO_MISS_RECORD_SIZE;
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: st(0, 4) });
  const tid = ds.addField({ name: 'tid', kind: Kind.Uint32, storage: st(4, 4) });
  ds.addField({ name: 'ts', kind: Kind.Uint64, storage: st(8, 8) });
  ds.addField({ name: 'ppid', kind: Kind.Uint32, storage: st(16, 4) });
  const label = ds.addField({ name: 'label', kind: Kind.String, storage: { type: 'derived', compute: (b: Batch, i: number) => `thread ${String(tid.get(b, i))} "x"` } });
  label.derivation = { kind: 'computed', inputs: [tid] };
  return ds;
}

/** ringbuf.bpf.c loaded for this process's getppid() calls, the world's JSON plan and encoder, and an output file in a
 * temp dir of its own; close() releases all of it. */
export function memoMissSetup(prefix: string) {
  setupKernel();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const obj = BpfObject.open(compileBpf('ringbuf'), 'ringbuf');
  const close = () => {
    obj.close();
    removeBuildDir();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ds = memoMissWorld();
    const np = compileNativePlan(jsonFields(ds));
    if ('reason' in np) throw new Error(np.reason);
    const enc = makeJsonEncoder(jsonFields(ds));
    obj.setVar('target_pid', u32(process.pid)).load();
    obj.attachAuto('igt_rb_getppid');
    const path = join(dir, 'out.json');
    return { obj, ds, np, enc, path, fd: openSync(path, 'w'), close };
  } catch (e) {
    close();
    throw e;
  }
}
