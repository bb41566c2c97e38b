// bpfstats: while trace_open runs in another ig process and files are opened, bpfstats lists trace_open's
// programs with their type, run count and run time over the interval, map count and memory, and the process
// holding them; with --gadgets-only it sums the programs of each gadget this process runs (as upstream's daemon
// does for its instances). BPF_ENABLE_STATS is released when it stops.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, readlinkSync, readdirSync } from 'node:fs';
import { IgProcess } from '../../../test/harness/ig.js';
import { waitOwnProgram } from '../../../test/harness/owned-progs.js';
import { prepareGadget } from '../../../src/runtime/assemble.js';
import { Logger } from '../../../src/gadget/logger.js';
import type { Batch } from '../../../src/datasource/index.js';

interface StatRec {
  gadgetID: string; gadgetName: string; gadgetImage: string; progID: number; progName: string; progType: string;
  cpuUsage: number; cpuUsageRelative: number; cpuTimeStr: string; runtime_raw: number; runtime: string; runcount: number;
  mapMemory_raw: number; mapCount: number; comms: string; pids: string;
}

const opens = () => { for (let i = 0; i < 100; i++) closeSync(openSync('/etc/hostname', 'r')); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let tracer: IgProcess | undefined;
after(async () => { await tracer?.stop(); });

/** Does this process hold a BPF_ENABLE_STATS fd? */
function holdsStatsFd(): boolean {
  return readdirSync('/proc/self/fd').some((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:bpf-stats'; } catch { return false; } }); // closed while listing
}

test('every program: trace_open\'s in another process, with runs, type, maps and the holder', async () => {
  tracer = new IgProcess(['run', 'trace_open', '--host', '-o', 'json']);
  const held = await waitOwnProgram(tracer.pid, 'ig_openat_e');
  const stats = new IgProcess(['run', 'bpfstats', '-o', 'json', '--statistics-interval', '500ms', '--timeout', '3']);
  // opens keep coming while bpfstats measures
  const t = setInterval(opens, 20);
  let r;
  try { r = await stats.wait(); } finally { clearInterval(t); }
  assert.equal(r.code, 0, r.stderr);
  const reports = stats.events<StatRec[]>();
  assert.ok(reports.length >= 3, `${reports.length} reports`);
  const rows = reports.slice(1).flat().filter((s) => s.progName === 'ig_openat_e' && held.includes(s.progID));
  assert.ok(rows.length > 0, JSON.stringify(reports.at(-1)).slice(0, 500));
  const busy = rows.find((s) => s.runcount > 0)!;
  assert.ok(busy, 'the program ran during an interval');
  assert.equal(busy.progType, 'tracepoint');
  assert.ok(busy.runtime_raw > 0 && busy.cpuUsage > 0, JSON.stringify(busy));
  // run time over the interval / interval, as a percentage
  assert.ok(Math.abs(busy.cpuUsage - (busy.runtime_raw / 500e6) * 100) < 1e-6);
  assert.ok(busy.mapCount > 0 && busy.mapMemory_raw > 0);
  assert.ok(busy.pids.split(',').includes(String(tracer.pid)), `${busy.pids} holds ${tracer.pid}`);
  assert.ok(busy.comms.split(',').includes('node'));
  // another process's gadget: no instance to name
  assert.equal(busy.gadgetImage, '');
});

test('--gadgets-only: one row per gadget of this process, its programs summed; the stats fd is closed at stop', async () => {
  const log = new Logger('error', () => undefined);
  const image = { pull: 'never' as const, verifyImage: false };
  const open = await prepareGadget('trace_open', { operators: [], log, image });
  open.instance = { id: 'a624bdbf27f0', name: 'mytraceopen' };
  const openRun = open.run();
  const stats = await prepareGadget('bpfstats', { operators: [], log, image });
  stats.params.set('gadgets-only', 'true');
  stats.params.set('statistics-interval', '300ms');
  const ds = stats.dataSources.get('bpfstats')!;
  const rows: StatRec[][] = [];
  ds.subscribe((b: Batch) => {
    const rec = (i: number) => Object.fromEntries(ds.fields.map((f) => [f.fullName, f.get(b, i)])) as unknown as StatRec;
    rows.push(Array.from({ length: b.count }, (_, i) => rec(i)));
  }, 0);
  try {
    await waitOwnProgram(process.pid, 'ig_openat_e');
    const statsRun = stats.run({ timeoutMs: 1500 });
    const t = setInterval(opens, 20);
    await sleep(500);
    assert.ok(holdsStatsFd(), 'BPF_ENABLE_STATS held while running');
    await statsRun.finally(() => clearInterval(t));
  } finally {
    open.done();
    await openRun;
  }
  assert.ok(!holdsStatsFd(), 'released at stop');
  const mine = rows.flat().filter((s) => s.gadgetID === 'a624bdbf27f0');
  assert.ok(mine.length > 0, JSON.stringify(rows));
  const r = mine.find((s) => s.runcount > 0)!;
  assert.ok(r, JSON.stringify(mine));
  assert.equal(r.gadgetName, 'mytraceopen');
  assert.equal(r.gadgetImage, 'ghcr.io/inspektor-gadget/gadget/trace_open:latest');
  assert.equal(r.progID, 0);
  assert.equal(r.progName, '');
  assert.ok(r.mapCount >= 3 && r.mapMemory_raw > 0, JSON.stringify(r));
  assert.ok(r.pids.split(',').includes(String(process.pid)));
});
