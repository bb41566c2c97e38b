// A client that reads nothing for a while (its start-up, a GC, a busy machine) while a storm goes on loses nothing
// as long as what the daemon holds for it fits the default per-client budget (16,384 messages, 32 MiB): the
// budget counts messages, as upstream's, not the events a batch frame carries. Counted in events, as before, the
// 30,000 events below overflowed it (slow-client.test.ts and raw-stream.test.ts: past the budget, counted losses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DaemonHarness, until } from '../harness/daemon.js';
import { OwnStorm } from '../harness/storm.js';
import { GadgetClient } from '../../src/service/client.js';

const d = new DaemonHarness('daemon-slow-start');
before(async () => { await d.start([]); }); // the default --events-buffer-length
after(async () => { await d.cleanup(); });

test('a client that reads nothing during a 30,000-event storm, then reads, gets every event and loses none', async () => {
  const storm = new OwnStorm(d.dir, 'igstart');
  const c = d.ctl(['run', 'trace_open', '--host', '--comm', 'igstart', '--detach', '--name', 'start', '--event-buffer-length', '1']);
  assert.equal(c.code, 0, c.stderr);
  const client = new GadgetClient({ address: d.address });
  assert.equal(client.usesRawStream, true, 'the transport gadgetctl uses');
  let records = 0;
  let lost = 0;
  const warnings: string[] = [];
  const handle = client.run({ attachId: c.stdout.trim() }, {
    onInfo: () => undefined,
    onDataSources: () => undefined,
    onBatch: (_ds, b) => { records += b.liveCount; },
    onLog: (_level, msg) => { warnings.push(msg); },
    onLost: (n) => { lost += n; },
  });
  handle.done.catch(() => undefined); // stopped at the end
  await until('the client to attach', () => { spawnSync(storm.bin, ['-e', "open(my $f, '<', '/etc/hostname')"]); return records > 0; }, 30000);
  await new Promise((r) => setTimeout(r, 1000)); // late events of the pokes
  const before = records;

  handle.pause(true);
  // At most ~10k opens/s (1 ms pause every 10), a few hundred frames: the kernel ring keeps up on a busy machine.
  const N = 30000;
  assert.equal(await storm.opens(N, 10), 0);
  assert.equal(records - before, 0, 'the paused client read nothing meanwhile');
  handle.pause(false);
  // (perl's own opens at start count too: at least N)
  await until(`the client to get ${N} events`, () => records - before >= N || lost > 0, 30000)
    .catch((e: Error) => { throw new Error(`${e.message}: got ${records - before}, lost ${lost}`); });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(lost, 0, `the daemon kept what the paused client had not read (got ${records - before}); ${warnings.join('; ')}`);
  assert.ok(records - before >= N);
  assert.deepEqual(warnings.filter((w) => /lost/.test(w)), [], 'the kernel ring dropped nothing either');
  handle.stop();
  client.close();
  assert.equal(d.ctl(['delete', 'start']).code, 0);
});
