// A replay through the pipelines beside stdout (issue 18): metrics export (the otel-metrics operator's Prometheus
// endpoint, scraped while a replay runs at the recorded pace, counts what the live run counted) and remote output
// (a real `ig daemon --recordings-dir` on a unix socket serves `replay:NAME`; gadgetctl renders it exactly as
// `ig replay` prints it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { freePort } from '../harness/prometheus.js';
import { DaemonHarness } from '../harness/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-rec-pipe-h18feat-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const COMM = 'h18pipecat';
const cat = join(dir, COMM);
copyFileSync('/bin/cat', cat);
const opens = (n: number) => spawnSync('sh', ['-c', `for i in $(seq 1 ${n}); do ${cat} /etc/hostname > /dev/null; done`]);

const METRICS = (port: number) => ['--otel-metrics-listen', '--otel-metrics-listen-address', `127.0.0.1:${port}`,
  '--annotate', 'open:metrics.collect=true', '--annotate', 'open:metrics.implicit-counter.name=opens',
  '--annotate', 'open.proc.comm:metrics.type=key', '--otel-metrics-name', 'open:h18metrics'];

async function counter(port: number): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = new RegExp(`^opens_total\\{proc_comm="${COMM}",otel_scope_name="h18metrics"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // endpoint not up yet, or gone
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined>, alive: () => boolean, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not seen`);
}

test('metrics export from a replay: the Prometheus endpoint counts what the live run counted', async () => {
  const file = join(dir, 'metrics.igrec');
  const livePort = await freePort();
  const ig = new IgProcess(['run', 'trace_open', '--host', '--comm', COMM, '-o', 'none', ...METRICS(livePort), '--record', file]);
  await until('live endpoint', async () => { opens(1); return counter(livePort); }, () => ig.child.exitCode === null);
  opens(20);
  // Settled: two reads 700 ms apart agree (events in flight have arrived).
  let prev = -1;
  const liveCount = await until('a settled live count', async () => {
    const v = await counter(livePort);
    if (v !== undefined && v === prev) return v;
    prev = v ?? -1;
    await new Promise((r) => setTimeout(r, 700));
    return undefined;
  }, () => ig.child.exitCode === null);
  // The recording goes on a while after the last open, so the replay at the recorded pace is still serving then.
  await new Promise((r) => setTimeout(r, 3000));
  const live = await ig.stop();
  assert.equal(live.code, 0, live.stderr);
  assert.ok(liveCount >= 21, String(liveCount));

  const port = await freePort();
  const rp = new IgProcess(['replay', file, '--speed', '1', '-o', 'none', ...METRICS(port)]);
  try {
    const seen = await until('the live count at the replay endpoint', async () => {
      const v = await counter(port);
      return v === liveCount ? v : undefined;
    }, () => rp.child.exitCode === null, 15000);
    assert.equal(seen, liveCount);
  } finally {
    await rp.stop();
  }
  // The same count from the records themselves.
  const json = runIgSync(['replay', file, '-o', 'json', '--filter', `proc.comm==${COMM}`]);
  assert.equal(json.stdout.split('\n').filter(Boolean).length, liveCount);
});

test('remote output: ig daemon --recordings-dir serves replay:NAME, gadgetctl renders it as ig replay prints it', async () => {
  const recs = join(dir, 'recordings');
  spawnSync('mkdir', ['-p', recs]);
  const file = join(recs, 'open.igrec');
  const ig = new IgProcess(['run', 'trace_open', '--host', '--comm', COMM, '-o', 'json', '--record', file]);
  await ig.waitFor<{ proc: { comm: string } }>((e) => e.proc?.comm === COMM, () => opens(1), { timeoutMs: 30000 });
  for (let i = 0; i < 5; i++) { opens(50); await new Promise((r) => setTimeout(r, 100)); }
  const live = await ig.stop();
  assert.equal(live.code, 0, live.stderr);

  const d = new DaemonHarness('rec-h18feat');
  try {
    await d.start(['--recordings-dir', recs]);
    for (const flags of [['-o', 'json'], ['--fields', 'proc.comm,proc.pid,fname,error'], ['-o', 'json', '--filter', 'fname==/etc/hostname']]) {
      const local = runIgSync(['replay', file, ...flags]);
      assert.equal(local.code, 0, local.stderr);
      const remote = d.ctl(['run', 'replay:open.igrec', ...flags]);
      assert.equal(remote.code, 0, remote.stderr);
      assert.ok(local.stdout.length > 0);
      assert.equal(remote.stdout, local.stdout, `gadgetctl differs from ig replay (${flags.join(' ')})`);
    }
    assert.equal(d.ctl(['run', 'replay:open.igrec', '-o', 'json']).stdout, live.stdout, 'and both print what the live run printed');
    // A detached instance of a recording waits for its first client (at full speed it would be over before anyone
    // attached); gadgetctl attach then gets the whole replay.
    const det = d.ctl(['run', 'replay:open.igrec', '--detach', '--name', 'h18feat-inc']);
    assert.equal(det.code, 0, det.stderr);
    await new Promise((r) => setTimeout(r, 1000));
    assert.match(d.ctl(['list']).stdout, /h18feat-inc +replay:open\.igrec +Running/);
    const att = d.ctl(['attach', 'h18feat-inc', '-o', 'json']);
    assert.equal(att.code, 0, att.stderr);
    assert.equal(att.stdout, live.stdout, 'gadgetctl attach to a recording instance');
    // Only recordings under the directory, each error in one line.
    const outside = d.ctl(['run', 'replay:../metrics.igrec']);
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr.trim(), /replay:\.\.\/metrics\.igrec: expected replay:NAME with NAME a file under the daemon's recordings directory$/);
    const missing = d.ctl(['run', 'replay:nope.igrec']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr.trim(), /replay:nope\.igrec: recording .*nope\.igrec: no such file$/);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  } finally {
    await d.cleanup();
  }
  const plain = new DaemonHarness('rec-h18feat-none');
  try {
    await plain.start();
    const r = plain.ctl(['run', 'replay:open.igrec']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /this daemon serves no recordings \(start it with --recordings-dir DIR\)$/);
  } finally {
    await plain.cleanup();
  }
});
