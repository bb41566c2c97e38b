// gadgetctl's raw HTTP/2 event stream (src/service/h2-call.ts) against a real daemon over a real unix socket: the
// same records as a grpc-js client of the same instance, and a raw client that stops reading loses counted events
// the daemon reports to it once it reads again. (TLS keeps grpc-js: tls.test.ts; every other daemon test drives
// gadgetctl, which takes the raw path on unix sockets.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DaemonHarness, until } from '../harness/daemon.js';
import { OwnStorm } from '../harness/storm.js';
import { GadgetClient, type RunHandle } from '../../src/service/client.js';

const d = new DaemonHarness('daemon-raw');
// 16 messages (frames of ~250 events at ~10k opens/s): the paused client's queue fills early in the second storm.
before(async () => { await d.start(['--events-buffer-length', '16']); });
after(async () => { await d.cleanup(); });

interface Counts { records: number; lost: number; info: boolean; handle: RunHandle; client: GadgetClient }

function attach(id: string, rawStream: boolean): Counts {
  const client = new GadgetClient({ address: d.address, rawStream });
  const c: Partial<Counts> = { records: 0, lost: 0, info: false, client };
  c.handle = client.run({ attachId: id }, {
    onInfo: () => { c.info = true; },
    onDataSources: () => undefined,
    onBatch: (_ds, b) => { c.records! += b.liveCount; },
    onLog: () => undefined,
    onLost: (n) => { c.lost! += n; },
  });
  c.handle.done.catch(() => undefined); // stopped at the end
  return c as Counts;
}

test('raw and grpc-js clients of one instance get the same records; a paused raw client is told what it lost', async () => {
  const storm = new OwnStorm(d.dir, 'igraw');
  const c = d.ctl(['run', 'trace_open', '--host', '--comm', 'igraw', '--detach', '--name', 'raw']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  const raw = attach(id, true);
  const viaGrpc = attach(id, false);
  assert.equal(raw.client.usesRawStream, true);
  assert.equal(viaGrpc.client.usesRawStream, false);
  await until('both clients to attach', () => {
    spawnSync(storm.bin, ['-e', "open(my $f, '<', '/etc/hostname')"]);
    return raw.records > 0 && viaGrpc.records > 0;
  }, 30000);
  await new Promise((r) => setTimeout(r, 1000)); // late events of the pokes
  const raw0 = raw.records;
  const grpc0 = viaGrpc.records;
  const N = 3000;
  assert.equal(await storm.opens(N), 0);
  // (perl's own opens at start count too: the grpc-js client's count is the total)
  await until(`both clients to get ${N} records`, () => raw.records - raw0 >= N && viaGrpc.records - grpc0 >= N, 30000)
    .catch((e: Error) => { throw new Error(`${e.message}: raw ${raw.records - raw0}, grpc-js ${viaGrpc.records - grpc0}`); });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(raw.records - raw0, viaGrpc.records - grpc0);
  assert.equal(raw.lost + viaGrpc.lost, 0);

  // The raw client stops reading: flow control holds the daemon back, its per-client queue (16 messages) drops the rest.
  raw.handle.pause(true);
  const raw1 = raw.records;
  const grpc1 = viaGrpc.records;
  const M = 30000;
  assert.equal(await storm.opens(M, 10), 0);
  await until(`the grpc-js client to get ${M} records`, () => viaGrpc.records - grpc1 >= M, 60000)
    .catch((e: Error) => { throw new Error(`${e.message}: got ${viaGrpc.records - grpc1}`); });
  await new Promise((r) => setTimeout(r, 1000));
  const total = viaGrpc.records - grpc1;
  raw.handle.pause(false);
  await until('the raw client to hear about its losses', () => raw.lost > 0 && raw.records - raw1 + raw.lost >= total, 30000)
    .catch((e: Error) => { throw new Error(`${e.message}: received ${raw.records - raw1} + lost ${raw.lost} of ${total}`); });
  assert.equal(raw.records - raw1 + raw.lost, total);
  assert.ok(raw.records - raw1 < M);
  raw.handle.stop();
  viaGrpc.handle.stop();
  await Promise.allSettled([raw.handle.done, viaGrpc.handle.done]);
  raw.client.close();
  viaGrpc.client.close();
  assert.equal(d.ctl(['delete', 'raw']).code, 0);
});
