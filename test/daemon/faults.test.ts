// Faults: killed clients, a SIGKILLed daemon, many short clients, bad requests, users without access.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { DaemonHarness, OwnCat, ownedProgIds, stillLoaded, until } from '../harness/daemon.js';
import { Inspector } from '../harness/inspector.js';
import { serviceOf, type ApiGadgetEvent } from '../../src/service/proto.js';
import { EventType } from '../../src/service/consts.js';

const d = new DaemonHarness('daemon-faults');
before(async () => { await d.start(); });
after(async () => { await d.cleanup(); });

type Raw = grpc.Client & Record<string, (...a: unknown[]) => unknown>;
function raw(service: 'GadgetManager' | 'GadgetInstanceManager' | 'BuiltInGadgetManager'): Raw {
  return rawAt(d.address, service);
}

function rawAt(address: string, service: 'GadgetManager' | 'GadgetInstanceManager' | 'BuiltInGadgetManager'): Raw {
  const Ctor = serviceOf(service);
  return new Ctor(address, grpc.credentials.createInsecure()) as unknown as Raw;
}

function unary(c: Raw, method: string, req: unknown): Promise<{ err: grpc.ServiceError | null; res: unknown }> {
  return new Promise((resolve) => { c[method]!.call(c, req, (err: grpc.ServiceError | null, res: unknown) => resolve({ err, res })); });
}

/** The status a RunGadget stream ends with after sending `first`. */
function runStatus(first: unknown): Promise<grpc.StatusObject> {
  const c = raw('GadgetManager');
  const call = (c['RunGadget'] as () => grpc.ClientDuplexStream<unknown, ApiGadgetEvent>).call(c);
  return new Promise((resolve) => {
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => { c.close(); resolve(s); });
    call.write(first);
  });
}

/** How much a series rises from its first to its last sample along its least-squares line. */
function trendGrowth(ys: number[]): number {
  const n = ys.length;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let sxy = 0, sxx = 0;
  ys.forEach((y, x) => { sxy += (x - mx) * (y - my); sxx += (x - mx) ** 2; });
  return (sxy / sxx) * (n - 1);
}

/** Sockets process `pid` has open: the daemon's listeners and its clients' connections. */
function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try { if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++; } catch { /* closed meanwhile */ }
  }
  return n;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

test('a client killed mid-stream stops its gadget and the daemon releases its programs', async () => {
  const cat = new OwnCat(d.dir, 'hkilledclient');
  const p = d.ctlProcess(['run', 'trace_open', '--host', '--comm', cat.comm, '-o', 'json']);
  await p.waitFor<{ proc?: { pid: number }; fname?: string }>((e) => cat.owns(e.proc?.pid, e.fname), () => cat.poke(), { timeoutMs: 30000 });
  const held = ownedProgIds(d.proc!.pid);
  assert.ok(held.length > 0);
  await p.stop('SIGKILL');
  await until('the daemon to release the programs', () => ownedProgIds(d.proc!.pid).length === 0);
  assert.deepEqual(await until('the programs to be unloaded', () => stillLoaded(held).length === 0 && []), []);
});

test('bad requests get one clear gRPC status', async () => {
  const gm = raw('GadgetManager');
  const unknown = await unary(gm, 'GetGadgetInfo', { imageName: 'no_such_gadget_xyz', version: 1, paramValues: {} });
  assert.equal(unknown.err?.code, grpc.status.NOT_FOUND);
  assert.match(unknown.err!.details, /no_such_gadget_xyz/);
  assert.doesNotMatch(unknown.err!.details, /\n|    at /);
  const badParam = await unary(gm, 'GetGadgetInfo', { imageName: 'trace_open', version: 1, paramValues: { 'operator.LocalManager.host': 'maybe' } });
  assert.equal(badParam.err?.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(badParam.err!.details, 'invalid value "maybe" for --host: expected true or false');
  const version = await unary(gm, 'GetGadgetInfo', { imageName: 'trace_open', version: 7 });
  assert.equal(version.err?.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(version.err!.details, 'unsupported GadgetInfo version 7: this daemon speaks version 1');
  gm.close();

  const runVersion = await runStatus({ runRequest: { imageName: 'trace_open', version: 2 } });
  assert.equal(runVersion.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(runVersion.details, 'unsupported run protocol version 2: this daemon speaks version 1');
  const runUnknown = await runStatus({ runRequest: { imageName: 'no_such_gadget_xyz', version: 1 } });
  assert.equal(runUnknown.code, grpc.status.NOT_FOUND);
  const runBadParam = await runStatus({ runRequest: { imageName: 'trace_open', version: 1, paramValues: { 'operator.oci.ebpf.pid': 'abc' } } });
  assert.equal(runBadParam.code, grpc.status.INVALID_ARGUMENT);
  assert.match(runBadParam.details, /^invalid value "abc" for --pid/);
  const noRequest = await runStatus({ stopRequest: {} });
  assert.equal(noRequest.code, grpc.status.INVALID_ARGUMENT);
  const attachNone = await runStatus({ attachRequest: { id: '0'.repeat(32), version: 1 } });
  assert.equal(attachNone.code, grpc.status.NOT_FOUND);

  // Bytes that are not a protobuf message.
  const Generic = grpc.makeGenericClientConstructor({
    GetGadgetInfo: { path: '/api.GadgetManager/GetGadgetInfo', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
  }, 'Garbage');
  const g = new Generic(d.address, grpc.credentials.createInsecure()) as unknown as Raw;
  const garbage = await unary(g, 'GetGadgetInfo', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
  g.close();
  assert.ok(garbage.err && garbage.err.code !== grpc.status.OK);
  assert.equal(garbage.err!.details.split('\n').length, 1);

  // Instances: unknown ids, bad names.
  const im = raw('GadgetInstanceManager');
  const create = await unary(im, 'CreateGadgetInstance', { gadgetInstance: { name: 'Bad Name', gadgetConfig: { imageName: 'trace_open', version: 1 } } });
  assert.equal(create.err?.code, grpc.status.INVALID_ARGUMENT);
  const createUnknown = await unary(im, 'CreateGadgetInstance', { gadgetInstance: { name: 'x', gadgetConfig: { imageName: 'no_such_gadget_xyz', version: 1 } } });
  assert.equal(createUnknown.err?.code, grpc.status.NOT_FOUND);
  const get = await unary(im, 'GetGadgetInstance', { id: 'f'.repeat(32) });
  assert.equal(get.err?.code, grpc.status.NOT_FOUND);
  const rm = await unary(im, 'RemoveGadgetInstance', { id: 'f'.repeat(32) });
  assert.deepEqual(rm.res, { result: 1, message: `gadget instance "${'f'.repeat(32)}" not found` });
  im.close();
  // The daemon is still serving and holds nothing.
  assert.equal(d.ctl(['version']).code, 0);
  await until('no programs', () => ownedProgIds(d.proc!.pid).length === 0);
});

test('100 clients connecting and disconnecting leave the daemon\'s memory flat', async (t) => {
  // A daemon of this test's own with its V8 inspector on a loopback port of its own: memory is read after a full
  // GC, so what is measured is what each round of clients left reachable, not where V8's collector happened to be.
  const m = new DaemonHarness('daemon-churn');
  await m.start([], { nodeArgs: ['--inspect=127.0.0.1:0'] });
  const insp = await Inspector.connect(() => m.proc!.stderr);
  // A one-event buffer, filled by a cat of ours: every client gets that event replayed. Only our cat's opens are
  // traced, so the daemon's memory does not follow what the machine's other cats do (at load 30-40, an instance
  // tracing every cat on the machine grew its external memory by up to 5 MiB a round: batches, not clients).
  const cat = new OwnCat(m.dir, 'hcleanchurn');
  const c = m.ctl(['run', 'trace_open', '--host', '--comm', cat.comm, '--detach', '--name', 'churn', '--event-buffer-length', '1']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  const witness = d.ctlProcess(['attach', 'churn', '-o', 'json'], m.address);
  try {
    await witness.waitFor<{ fname?: string }>((e) => e.fname === cat.file, () => cat.poke(), { timeoutMs: 30000 });
  } finally { await witness.stop('SIGINT'); }
  const client = async (): Promise<void> => {
    const b = rawAt(m.address, 'BuiltInGadgetManager');
    await unary(b, 'GetInfo', { version: '1' });
    b.close();
    const gm = rawAt(m.address, 'GadgetManager');
    const call = (gm['RunGadget'] as () => grpc.ClientDuplexStream<unknown, ApiGadgetEvent>).call(gm);
    await new Promise<void>((resolve) => {
      call.on('data', (ev: ApiGadgetEvent) => { if (ev.type === EventType.GadgetInfo) { call.cancel(); resolve(); } });
      call.on('error', () => resolve());
      call.write({ attachRequest: { id, version: 1 } });
    });
    gm.close();
  };
  try {
    // Rounds of 100 clients; after each, a full GC, then live memory (V8 heap + external buffers) and RSS. The first
    // WARM rounds fill JIT code, inline caches and pools: seen on the loaded machine, live memory grew 0.5–0.8 MiB
    // over the first rounds, then stayed within ±0.3 MiB for 2,000 more clients, and RSS after GC within ±0.5 MiB.
    // Memory is read once the daemon has closed the clients' connections: its sockets back to those before them.
    // On a machine at load 30–40 the daemon was seen to close them seconds after the clients went, and each open
    // HTTP/2 session holds 30–50 KiB (live memory +3–5 MiB for a round read too early).
    const WARM = 3, MEASURED = 5;
    const sockets0 = socketCount(m.proc!.pid);
    const live: number[] = [];
    const rss: number[] = [];
    for (let round = 0; round < WARM + MEASURED; round++) {
      for (let i = 0; i < 100; i++) await client();
      await until(`the daemon to close the clients' connections (${sockets0} sockets before them)`, () => socketCount(m.proc!.pid) <= sockets0, 60000);
      const mem = await insp.memoryAfterGc();
      if (round < WARM) continue;
      live.push(mem.heapUsed + mem.external);
      rss.push(rssKiB(m.proc!.pid) * 1024);
    }
    // Growth over the measured rounds (400 clients) along a least-squares line, so no single sample decides. Bounds:
    // 1.5 MiB of live memory is under 4 KiB a client (a leaked client stream and its call keep more than that), five
    // times the noise; 4 MiB of RSS is 10 KiB a client, for what V8 does not see (native memory).
    const MiB = 1048576;
    const show = `after each 100 clients (MiB): live ${live.map((b) => (b / MiB).toFixed(2)).join(', ')}; rss ${rss.map((b) => (b / MiB).toFixed(2)).join(', ')}`;
    t.diagnostic(show);
    assert.ok(trendGrowth(live) < 1.5 * MiB, `live memory grows: ${show}`);
    assert.ok(trendGrowth(rss) < 4 * MiB, `RSS grows: ${show}`);
  } finally {
    insp.close();
    assert.equal(m.ctl(['delete', 'churn']).code, 0);
    await m.cleanup();
  }
});

test('SIGKILLed daemon: restarted, it leaves no program of the old one and resumes its instances', async () => {
  // a comm no other process has: the gadgets stay quiet (only their programs matter here)
  const c = d.ctl(['run', 'trace_open', '--host', '--comm', 'hsurvivornone', '--detach', '--name', 'survivor']);
  assert.equal(c.code, 0, c.stderr);
  const p = d.ctlProcess(['run', 'trace_exec', '--host', '--comm', 'hsurvivornone', '-o', 'json']);
  await until('both gadgets loaded', () => ownedProgIds(d.proc!.pid).length >= 2, 30000);
  const held = ownedProgIds(d.proc!.pid);
  await d.stop('SIGKILL');
  await p.wait();
  await until('the old programs to be gone', () => stillLoaded(held).length === 0 && true);
  await d.start();
  const list = JSON.parse(d.ctl(['list', '-o', 'json']).stdout) as { name: string; status: string }[];
  assert.deepEqual(list.map((i) => [i.name, i.status]), [['survivor', 'Running']]);
  const now = await until('the resumed instance\'s programs', () => { const ids = ownedProgIds(d.proc!.pid); return ids.length > 0 && ids; });
  assert.deepEqual(now.filter((id) => held.includes(id)), [], 'new programs, none of the old ones');
  assert.equal(d.ctl(['delete', 'survivor']).code, 0);
});

test('the socket: 0600 root only; with --group 0660 and that group; other users cannot connect', async () => {
  await d.stop();
  chmodSync(d.dir, 0o755); // the directory lets anyone through: the socket's mode is what keeps them out
  await d.start();
  assert.equal(statSync(d.socket).mode & 0o777, 0o600);
  const nobody = d.ctl(['list', '--connection-timeout', '3'], { uid: 65534, gid: 65534 });
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr.trim(), /^Error: cannot reach the ig daemon at unix:\/\/.*: .*(EACCES|permission denied)/i);
  await d.stop();
  await d.start(['--group', '65534']);
  const st = statSync(d.socket);
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.gid, 65534);
  const member = d.ctl(['list'], { uid: 65534, gid: 65534 });
  assert.equal(member.code, 0, member.stderr);
});
