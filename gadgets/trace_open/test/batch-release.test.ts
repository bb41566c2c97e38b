// -o none hands every batch to JS (subscribers), where nothing keeps a batch once it has been emitted: each one
// goes straight back to the reader (batchRelease) instead of staying resident until V8's next GC, so a storm of
// batches is served by a handful of reused buffers, and no event is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';

const COMM = 'igmem_storm';

test('-o none: batches go back to the reader as soon as JS has emitted them', async () => {
  const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'none', '--comm', COMM, '-v']);
  let res;
  try {
    const t0 = Date.now();
    while (!/ring buffer events of/.test(ig.stderr)) {
      assert.ok(Date.now() - t0 < 30000, `ig did not start: ${ig.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // 60,000 opens in bursts, from a process named COMM (the in-kernel --comm filter keeps only these).
    const py = `open('/proc/self/comm','w').write('${COMM}')\nimport os,time\nfor k in range(30):\n  for i in range(2000):\n    os.close(os.open('/etc/hostname', os.O_RDONLY))\n  time.sleep(0.01)\n`;
    const r = spawnSync('python3', ['-c', py], { stdio: 'inherit' });
    assert.equal(r.status, 0);
    await new Promise((r2) => setTimeout(r2, 300));
  } finally {
    res = await ig.stop();
  }
  assert.equal(res.code, 0, res.stderr);
  assert.doesNotMatch(res.stderr, /lost/i);
  const m = /open: (\d+) batches handed to JS in (\d+) full-size buffers/.exec(res.stderr);
  assert.ok(m, `no batch statistics in: ${res.stderr}`);
  const [batches, buffers] = [Number(m[1]), Number(m[2])];
  assert.ok(batches >= 10, `${batches} batches`);
  // One filling, one or two being read, the pool's spares: not one buffer per batch until a GC frees them.
  assert.ok(buffers <= 8, `${buffers} buffers for ${batches} batches`);
});
