// Faults: killed clients, a SIGKILLed daemon, many short clients, bad requests, users without access.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { DaemonHarness, ownedProgIds, poke, stillLoaded, until } from '../harness/daemon.js';
import { serviceOf, type ApiGadgetEvent } from '../../src/service/proto.js';
import { EventType } from '../../src/service/consts.js';

const d = new DaemonHarness('daemon-faults');
before(async () => { await d.start(); });
after(async () => { await d.cleanup(); });

type Raw = grpc.Client & Record<string, (...a: unknown[]) => unknown>;
function raw(service: 'GadgetManager' | 'GadgetInstanceManager' | 'BuiltInGadgetManager'): Raw {
  const Ctor = serviceOf(service);
  return new Ctor(d.address, grpc.credentials.createInsecure()) as unknown as Raw;
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

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

test('a client killed mid-stream stops its gadget and the daemon releases its programs', async () => {
  const p = d.ctlProcess(['run', 'trace_open', '--host', '--comm', 'cat', '-o', 'json']);
  await p.waitFor<{ proc: { comm: string } }>((e) => e.proc?.comm === 'cat', poke, { timeoutMs: 30000 });
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

test('100 clients connecting and disconnecting leave the daemon\'s RSS flat', async () => {
  // A one-event buffer: what the instance keeps for attaching clients is bounded by design and filled by other
  // processes' cats here; this test is about what each client leaves behind.
  const c = d.ctl(['run', 'trace_open', '--host', '--comm', 'cat', '--detach', '--name', 'churn', '--event-buffer-length', '1']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  const client = async (): Promise<void> => {
    const b = raw('BuiltInGadgetManager');
    await unary(b, 'GetInfo', { version: '1' });
    b.close();
    const gm = raw('GadgetManager');
    const call = (gm['RunGadget'] as () => grpc.ClientDuplexStream<unknown, ApiGadgetEvent>).call(gm);
    await new Promise<void>((resolve) => {
      call.on('data', (ev: ApiGadgetEvent) => { if (ev.type === EventType.GadgetInfo) { call.cancel(); resolve(); } });
      call.on('error', () => resolve());
      call.write({ attachRequest: { id, version: 1 } });
    });
    gm.close();
  };
  try {
    // Round 1 warms up (JIT, pools, V8 growing its heap to a working size); rounds 2 and 3 must not keep growing.
    const rss: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) await client();
      await new Promise((r) => setTimeout(r, 500));
      rss.push(rssKiB(d.proc!.pid));
    }
    assert.ok(rss[2]! - rss[1]! < 6 * 1024, `RSS after each 100 clients: ${rss.join(', ')} KiB`);
  } finally {
    assert.equal(d.ctl(['delete', 'churn']).code, 0);
  }
});

test('SIGKILLed daemon: restarted, it leaves no program of the old one and resumes its instances', async () => {
  const c = d.ctl(['run', 'trace_open', '--host', '--comm', 'cat', '--detach', '--name', 'survivor']);
  assert.equal(c.code, 0, c.stderr);
  const p = d.ctlProcess(['run', 'trace_exec', '--host', '--comm', 'cat', '-o', 'json']);
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
