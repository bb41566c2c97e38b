// Clients that speak only upstream's protocol (no ig header) get upstream's per-event payloads, decoded here by a
// client written from api.proto and upstream's client semantics (test/harness/upstream-client.ts); ig's gadgetctl
// keeps the batch form. Headless instances replay their buffered events to clients that attach, in both forms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DaemonHarness, OwnCat, ownedProgIds, until } from '../harness/daemon.js';
import { upstreamRun, type UpEvent } from '../harness/upstream-client.js';
import { GadgetClient } from '../../src/service/client.js';

const d = new DaemonHarness('daemon-upstream-h14');
let hostKey = '';
let commKey = '';
before(async () => {
  await d.start();
  const info = JSON.parse(d.ctl(['image', 'inspect', 'trace_open', '-o', 'json']).stdout) as { params: { key: string; prefix: string }[] };
  const key = (k: string) => { const p = info.params.find((x) => x.key === k)!; return `${p.prefix}${p.key}`; };
  hostKey = key('host');
  commKey = key('comm');
});
after(async () => { await d.cleanup(); });

test('an upstream client gets trace_open events as GadgetData payloads it can decode', async () => {
  // Our own cat, filtered on in the kernel: a busy machine's other opens neither flood this stream nor match.
  const cat = new OwnCat(d.dir, 'h14upcat');
  const r = upstreamRun(d.address, { imageName: 'trace_open', paramValues: { [hostKey]: 'true', [commKey]: cat.comm } });
  let ev: UpEvent | undefined;
  try {
    ev = await until('the event of our cat', () => { cat.poke(); return r.events.find((e) => cat.owns(e.values['proc.pid'], e.values['fname'])); }, 30000);
  } finally { r.stop(); }
  const status = await r.ended;
  assert.ok(status && (status.code === 0 || status.code === 1), `run ended with ${status?.code} ${status?.details}`);
  assert.deepEqual(r.unknownTypes, [], 'no event type an upstream client does not know (ig\'s batch form)');
  assert.deepEqual(r.errors, []);
  assert.equal(r.dataSources.size, 1);
  const v = ev.values;
  assert.equal(typeof v['proc.pid'], 'number');
  assert.ok((v['proc.pid'] as number) > 0);
  assert.equal(v['proc.comm'], cat.comm);
  assert.ok(r.events.every((e) => e.values['proc.comm'] === cat.comm), 'the comm filter, sent as an upstream param value, applies');
  // Values that ig computes (not in the record bytes) travel in payloads of their own, in upstream's encoding.
  assert.match(String(v['timestamp']), /^\d{4}-\d\d-\d\dT/);
  assert.ok(r.events.every((e, k) => k === 0 || e.seq > r.events[k - 1]!.seq), 'sequence numbers increase');
  await until('daemon to release its programs', () => ownedProgIds(d.proc!.pid).length === 0);
});

test('an upstream client gets an array data source (snapshot_process) as GadgetDataArray packets', async () => {
  const r = upstreamRun(d.address, { imageName: 'snapshot_process', paramValues: { [hostKey]: 'true' } });
  const status = await r.ended;
  assert.equal(status?.code, 0, status?.details);
  assert.deepEqual(r.unknownTypes, []);
  assert.deepEqual(r.errors, []);
  const ds = [...r.dataSources.values()][0]!;
  assert.equal(ds.type, 2, 'an array data source');
  // One packet holds the whole snapshot: many elements under one sequence number; this test process is among them.
  assert.ok(r.events.length > 1);
  assert.equal(new Set(r.events.map((e) => e.seq)).size, 1);
  const me = r.events.find((e) => e.values['pid'] === process.pid || e.values['proc.pid'] === process.pid);
  assert.ok(me, `this process (${process.pid}) is in the snapshot`);
  assert.equal(me.values['comm'] ?? me.values['proc.comm'], 'node');
});

test('an instance replays its last --event-buffer-length events to attaching clients (upstream and batch form)', async () => {
  // A binary of our own name, so other tests' and helpers' cats do not count.
  const comm = 'h14replaycat';
  const bin = join(d.dir, comm);
  copyFileSync('/bin/cat', bin);
  spawnSync('chmod', ['755', bin]);
  const c = d.ctl(['run', 'trace_open', '--host', '--comm', comm, '--detach', '--name', 'replay', '--event-buffer-length', '5']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  try {
    // A witness attached before any event sees them all.
    const witness = upstreamRun(d.address, { attachId: id });
    await until('witness to get the gadget info', () => witness.dataSources.size > 0, 20000);
    const files: string[] = [];
    for (let k = 0; k < 6; k++) {
      const f = join(d.dir, `replay-${k}`);
      writeFileSync(f, 'x');
      files.push(f);
      spawnSync(bin, [f], { stdio: 'ignore' });
    }
    await until('witness to see the last file', () => witness.events.some((e) => e.values['fname'] === files[5]), 20000);
    await new Promise((res) => setTimeout(res, 500));
    witness.stop();
    await witness.ended;
    assert.deepEqual(witness.errors, []);
    const all = witness.events.map((e) => `${e.values['proc.comm']} ${e.values['fname']}`);
    assert.ok(all.length > 5, `more events than the buffer holds (${all.length})`);
    const expected = all.slice(-5);

    // Upstream form: exactly the buffered five, numbered 1…5, before anything else.
    const late = upstreamRun(d.address, { attachId: id });
    await until('five replayed events', () => late.events.length >= 5, 20000);
    await new Promise((res) => setTimeout(res, 500));
    late.stop();
    await late.ended;
    assert.deepEqual(late.events.map((e) => `${e.values['proc.comm']} ${e.values['fname']}`), expected);
    assert.deepEqual(late.events.map((e) => e.seq), [1, 2, 3, 4, 5]);
    assert.equal(late.gaps, 0);

    // Batch form (gadgetctl): the same five.
    const a = d.ctlProcess(['attach', 'replay', '-o', 'json']);
    let lines: { proc: { comm: string }; fname: string }[] = [];
    try {
      await until('five replayed lines', () => {
        lines = a.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { proc: { comm: string }; fname: string });
        return lines.length >= 5;
      }, 30000);
      await new Promise((res) => setTimeout(res, 500));
    } finally { await a.stop('SIGINT'); }
    lines = a.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { proc: { comm: string }; fname: string });
    assert.deepEqual(lines.map((l) => `${l.proc.comm} ${l.fname}`), expected);
  } finally {
    assert.equal(d.ctl(['delete', id]).code, 0);
  }
});

test('ig\'s client reads upstream\'s form too (as from upstream\'s daemon)', async () => {
  const c = new GadgetClient({ address: d.address, wireForm: 'upstream' });
  const cat = new OwnCat(d.dir, 'h14upcat2');
  let found: Record<string, unknown> | undefined;
  let names: string[] = [];
  const h = c.run({ imageName: 'trace_open', paramValues: { [hostKey]: 'true', [commKey]: cat.comm } }, {
    onInfo: () => undefined,
    onDataSources: (dss) => { names = dss.map((x) => x.name); },
    onBatch: (ds, b) => {
      for (const i of b.indices()) {
        const get = (n: string) => ds.getField(n)!.get(b, i);
        if (!found && get('proc.comm') === cat.comm && cat.owns(get('proc.pid'), get('fname'))) {
          found = { pid: get('proc.pid'), timestamp: get('timestamp'), user: get('proc.creds.user'), mntns: get('proc.mntns_id') };
        }
      }
    },
    onLog: () => undefined,
    onLost: () => undefined,
  });
  try {
    await until('the event of our cat', () => { cat.poke(); return found; }, 30000);
  } finally { h.stop(); }
  await h.done;
  c.close();
  assert.deepEqual(names, ['open']);
  assert.ok(typeof found!['pid'] === 'number' && (found!['pid'] as number) > 0);
  assert.match(String(found!['timestamp']), /^\d{4}-\d\d-\d\dT/);
  assert.equal(typeof found!['user'], 'string');
  assert.ok(typeof found!['mntns'] === 'number' || typeof found!['mntns'] === 'bigint');
});

test('gadgetctl refuses a bad --event-buffer-length with one line', () => {
  const r = d.ctl(['run', 'trace_open', '--detach', '--event-buffer-length', 'lots']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), 'Error: invalid value "lots" for --event-buffer-length: expected a number of events (0: the daemon\'s setting)');
});
