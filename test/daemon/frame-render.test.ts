// gadgetctl renders -o json and -o columns of a remote run from the batch frames' bytes (native render plan,
// src/service/frame-render.ts): the lines must be the bytes the JS renderers print. Each test runs trace_open through
// a real `ig daemon` on a unix socket and renders every received batch both ways, natively and through the cli's JS
// subscribers, from the same bytes; the workload opens files with names that exercise escaping (quotes,
// backslashes, control characters, non-ASCII, wide characters) and failing opens (error values).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DaemonHarness, until } from '../harness/daemon.js';
import { GadgetClient } from '../../src/service/client.js';
import { RemoteRenderer } from '../../src/cli/gadgetctl/render.js';
import { Logger } from '../../src/gadget/logger.js';
import type { ApiGadgetInfo } from '../../src/service/proto.js';
import type { Sink } from '../../src/operators/cli/operator.js';
import { Batch, DataSource, FieldFlag } from '../../src/datasource/index.js';

const d = new DaemonHarness('daemon-frame-h14c');
const work = mkdtempSync(join(tmpdir(), 'ig-frame-h14c-'));
const NAMES = ['plain', 'quote"d', 'back\\slash', 'tab\there', 'ctl\x01\x1f', 'caf\u00e9', '\u5bbd\u5b57\u7b26', 'emoji\u{1f600}', 'x'.repeat(180)];
let hostKey = '';
let commKey = '';

before(async () => {
  await d.start();
  for (const n of NAMES) writeFileSync(join(work, n), 'x');
  const client = new GadgetClient({ address: d.address });
  try {
    const info = await client.getGadgetInfo('trace_open');
    const key = (k: string) => { const p = info.params.find((x) => x.key === k)!; return `${p.prefix}${p.key}`; };
    hostKey = key('host');
    commKey = key('comm');
  } finally { client.close(); }
});
after(async () => { await d.cleanup(); rmSync(work, { recursive: true, force: true }); });

/** Opens of every name (some twice), of missing files (ENOENT) and of a directory for writing (EISDIR). */
function workload(): void {
  const paths = NAMES.map((n) => join(work, n));
  spawnSync('cat', [...paths, ...paths.slice(0, 3), join(work, 'missing-h14c'), '/etc/hostname'], { stdio: 'ignore' });
  spawnSync('sh', ['-c', `for i in 1 2 3 4 5 6 7 8; do cat ${join(work, 'plain')} /nonexistent-h14c-$i; done; echo > ${work} 2>/dev/null`], { stdio: 'ignore' });
}

/**
 * A copy of a received data source with the same fields and storage: the JS reference renders the same batches
 * through its own data source (the native renderer's cli subscribers sit on the received one).
 */
function cloneDs(ds: DataSource): DataSource {
  const c = new DataSource(ds.name, ds.type);
  c.staticSize = ds.staticSize;
  for (const [k, v] of ds.annotations) c.annotations.set(k, v);
  c.tags.push(...ds.tags);
  for (const f of ds.fields) {
    c.addField({ name: f.name, fullName: f.fullName, kind: f.kind, flags: f.flags & ~FieldFlag.HasParent, order: f.order, parent: f.parent ? c.fields[f.parent.index] : undefined, tags: [...f.tags], annotations: Object.fromEntries(f.annotations), storage: f.storage }, { asIs: true });
  }
  return c;
}

function cloneBatch(ds: DataSource, b: Batch): Batch {
  const c = new Batch(ds, b.buf, b.offs, b.lens, b.count);
  b.columns.forEach((col, k) => { c.columns[k] = col; });
  return c;
}

function capture(): { sink: Sink; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  // A Buffer handed to write() is only valid during the call: copied.
  return { sink: { write: (s) => { parts.push(Buffer.from(s)); }, isTTY: false }, bytes: () => Buffer.concat(parts) };
}

let fileSeq = 0;

async function bothWays(server: Record<string, string>, client: Record<string, string>): Promise<{ native: string; direct: string; js: string; stats: { native: number; js: number } }> {
  const values = new Map(Object.entries(client));
  const log = new Logger('warn');
  const nat = capture();
  const js = capture();
  const rNat = new RemoteRenderer(values, log, nat.sink);
  const rJs = new RemoteRenderer(values, log, js.sink, false);
  // As gadgetctl writes to stdout: native lines written to the fd by the native side, JS lines by the sink.
  const file = join(work, `direct-${fileSeq++}.out`);
  const fd = openSync(file, 'w');
  const rDirect = new RemoteRenderer(values, log, { write: (s) => { writeSync(fd, typeof s === 'string' ? Buffer.from(s) : s); }, isTTY: false }, true, () => fd);
  const c = new GadgetClient({ address: d.address });
  let info: ApiGadgetInfo | undefined;
  let pending: Promise<void> = Promise.resolve();
  let ready = false;
  let queued = 0;
  const clones = new Map<DataSource, DataSource>();
  // Per batch frame, in order: whether the native renderer took it (the decoded batch follows through onBatch).
  const tookFrame: boolean[] = [];
  const h = c.run({ imageName: 'trace_open', paramValues: { [hostKey]: 'true', ...server } }, {
    onInfo: (i) => { info = i; },
    onDataSources: (dss) => {
      ready = false;
      for (const ds of dss) if (!clones.has(ds)) clones.set(ds, cloneDs(ds));
      pending = pending.then(async () => { await rNat.setup(info!, dss); await rDirect.setup(info!, dss); await rJs.setup(info!, dss.map((ds) => clones.get(ds)!)); ready = true; });
    },
    onBatchFrame: (ds, frame, start, end, decode) => {
      const took = ready && queued === 0 && rNat.onFrame(ds, frame, start, end, decode);
      if (took) rDirect.onFrame(ds, frame, start, end, decode);
      tookFrame.push(took);
      return false;
    },
    // As gadgetctl does: batches that came before the output was set up are rendered first, in order.
    onBatch: (ds, b) => {
      const took = tookFrame.shift();
      const render = () => { const c = clones.get(ds)!; rJs.onBatch(c, cloneBatch(c, b)); if (!took) { rNat.onBatch(ds, b); rDirect.onBatch(ds, b); } };
      if (ready && queued === 0) { render(); return; }
      queued++;
      pending = pending.then(() => { queued--; render(); });
    },
    onLog: () => undefined,
    // The whole host's opens reach this client (other runs on the machine too): when it falls behind, the daemon
    // drops batches, both renderers miss the same ones.
    onLost: () => undefined,
  });
  try {
    await until('the run to start', () => ready, 30000);
    for (let k = 0; k < 5; k++) { workload(); await new Promise((r) => setTimeout(r, 100)); }
    // Once more until its last open is printed (a batch the daemon dropped for this client does not come again).
    const deadline = Date.now() + 30000;
    while (!js.bytes().includes('/nonexistent-h14c-8') && Date.now() < deadline) { workload(); await new Promise((r) => setTimeout(r, 300)); }
  } finally {
    h.stop();
    await h.done;
    await pending;
    c.close();
  }
  const stats = rNat.frameStats;
  assert.equal(rDirect.frameStats.native, stats.native, 'the direct renderer rendered what the buffered one did');
  await rNat.stop();
  await rDirect.stop();
  await rJs.stop();
  closeSync(fd);
  return { native: nat.bytes().toString('utf8'), direct: readFileSync(file, 'utf8'), js: js.bytes().toString('utf8'), stats };
}

function sameBytes(r: { native: string; direct: string; js: string; stats: { native: number; js: number } }): void {
  assert.ok(r.stats.native > 0, `records rendered natively (${JSON.stringify(r.stats)})`);
  assert.ok(r.js.includes('/nonexistent-h14c-8'), 'the workload was seen');
  for (const [what, text] of [['native', r.native], ['native to the fd', r.direct]] as const) {
    if (text !== r.js) {
      const a = text.split('\n');
      const b = r.js.split('\n');
      const k = a.findIndex((l, i) => l !== b[i]);
      assert.fail(`${what}: line ${k} differs:\n${what}: ${JSON.stringify(a[k])}\njs:     ${JSON.stringify(b[k])}`);
    }
  }
}

test('-o json from batch frames is byte-identical to the JS encoder', async () => {
  const r = await bothWays({}, { 'operator.cli.output': 'json' });
  sameBytes(r);
  for (const n of NAMES) assert.ok(r.js.includes(JSON.stringify(join(work, n)).slice(1, -1)), `the open of ${JSON.stringify(n)} is printed`);
  assert.match(r.native, /"error":"ENOENT"/);
});

test('-o columns from batch frames is byte-identical to the JS columns', async () => {
  const r = await bothWays({}, { 'operator.cli.output': 'columns' });
  sameBytes(r);
  assert.match(r.native.split('\n')[0]!, /\bFNAME\b/, 'the header first');
  assert.equal(r.native.split('\n').filter((l) => /\bFNAME\b/.test(l)).length, 1, 'the header once');
});

test('--fields and a daemon-side filter (comm) keep native and JS output identical', async () => {
  const r = await bothWays({ [commKey]: 'cat' }, { 'operator.cli.output': 'json', 'operator.cli.fields': 'proc.comm,fname,error,fd' });
  sameBytes(r);
  for (const line of r.native.trim().split('\n')) {
    const ev = JSON.parse(line) as { proc: { comm: string } };
    assert.deepEqual(Object.keys(ev).sort(), ['error', 'fd', 'fname', 'proc']);
    assert.equal(ev.proc.comm, 'cat', 'the daemon filtered by comm');
  }
  const c = await bothWays({ 'operator.filter.filter': 'proc.comm==cat' }, { 'operator.cli.output': 'columns', 'operator.cli.fields': 'proc.comm,proc.pid,fname,error' });
  sameBytes(c);
  assert.ok(c.native.split('\n').slice(1).filter(Boolean).every((l) => l.startsWith('cat ')), 'the filter ran on the daemon');
});
