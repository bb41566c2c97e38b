// A signal arriving while the kernel verifies a program makes the verifier give up with EAGAIN; libbpf tries 5
// times at once, which a thread signalled often enough fails every time. `node --cpu-prof` sends SIGPROF to the main
// thread every sampling interval: at 10 us, 7 of 8 of these loads failed ("Resource temporarily unavailable")
// before native/src/signals_held.c held signals off the loading thread. A profiled ig must load like any other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { IG_MAIN } from '../harness/ig.js';
import { tempDir } from '../harness/workload.js';

// gadgets whose loads failed most often under the profiler (several programs each, long verifications)
for (const gadget of ['trace_dns', 'top_file', 'trace_exec']) {
  test(`${gadget} loads and runs under node --cpu-prof --cpu-prof-interval 10`, () => {
    const prof = tempDir('ig-htests-prof-');
    try {
      const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', prof.dir, '--cpu-prof-interval', '10', IG_MAIN, 'run', gadget, '--host', '--timeout', '1', '-o', 'none'],
        { encoding: 'utf8', timeout: 60000 });
      assert.doesNotMatch(r.stderr, /Resource temporarily unavailable|EAGAIN/);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(readdirSync(prof.dir).some((f) => f.endsWith('.cpuprofile')), 'the profiler ran');
    } finally { prof.cleanup(); }
  });
}
