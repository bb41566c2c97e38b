// Record and replay of gadgets without a program, whose statistics operators build their reports in JS from /proc
// and the kernel's counters (top_process, bpfstats): the recording keeps each report as values (entry type 9,
// rows) and the replay prints them, byte for byte as the live run did, instead of sampling the replaying machine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { waitOwnProgram } from '../harness/owned-progs.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-rec-stats-h18feat-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cases: { gadget: string; flags: string[]; check: (out: string) => void; tracer?: boolean }[] = [
  // A process of ours with a known name, busy, so that it is in every report.
  { gadget: 'top_process', flags: ['-o', 'json'], check: (o) => assert.match(o, /"comm":"h18statsbusy"/) },
  { gadget: 'top_process', flags: ['--sort', '-cpuUsage', '--max-entries', '5'], check: (o) => assert.match(o, /h18statsbusy/) },
  // A tracer of ours holds programs while bpfstats samples: on an idle machine there may be no other program at all.
  { gadget: 'bpfstats', flags: ['-o', 'json'], check: (o) => assert.match(o, /"progName":"ig_openat_e"/), tracer: true },
];

for (const [k, c] of cases.entries()) {
  test(`${c.gadget} ${c.flags.join(' ')}: the replay prints the recorded reports, not this machine's`, async () => {
    const busy = join(dir, 'h18statsbusy');
    copyFileSync('/bin/sh', busy);
    let tracer: IgProcess | undefined;
    if (c.tracer) {
      tracer = new IgProcess(['run', 'trace_open', '--host', '-o', 'none']);
      await waitOwnProgram(tracer.pid, 'ig_openat_e');
    }
    const child = spawn(busy, ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    const file = join(dir, `${c.gadget}-${k}.igrec`);
    let live;
    try {
      live = runIgSync(['run', c.gadget, ...c.flags, '--timeout', '4', '--record', file], { timeoutMs: 60000 });
    } finally {
      child.kill('SIGKILL');
      await tracer?.stop();
    }
    assert.equal(live.code, 0, live.stderr);
    c.check(live.stdout);
    const r = runIgSync(['replay', file, ...c.flags], { timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    // The busy process is gone now: a replay that sampled this machine would not show it.
    assert.equal(r.stdout, live.stdout, `replay differs from the live run (${c.gadget} ${c.flags.join(' ')})`);
    const info = runIgSync(['replay', '--info', file]);
    assert.match(info.stdout, /^ {2}(processes|bpfstats): [1-9]\d* records in [1-9]\d* batches, 0 lost$/m);
  });
}
