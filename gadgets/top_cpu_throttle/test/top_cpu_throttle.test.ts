// top_cpu_throttle: a busy loop in a cgroup limited to 10 % of a CPU is throttled in nearly every period; the
// gadget reports that cgroup (path, periods, throttled count and time, ratio, quota, period, core limit) once per
// interval, and leaves out cgroups where nothing happened. The test machine binds the cpu controller to a cgroup
// v1 hierarchy (cgroup v2 has no cpu.max there), so the limit is set where the machine has it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { runIgSync } from '../../../test/harness/ig.js';
import { LineChild } from '../../../test/harness/activity.js';
import { cgroupMounts } from '../../../src/operators/cgroup/stats.js';

interface CgRec {
  cgroupPath: string; nrPeriods: number; nrThrottled: number; throttledTime_raw: number; throttledTime: string; throttleRatio: number;
  cpuQuota_raw: number; cpuQuota: string; cpuPeriod_raw: number; cpuLimitCores: number; psiSomeAvg10: number; psiSomeAvg60: number; mountnsid: number;
}

const name = `ig-test-throttle-${process.pid}`;
const mounts = cgroupMounts();
// the cpu controller on the unified hierarchy (cgroup v2), else on its own v1 hierarchy
const v2 = ((): boolean => {
  try { return !!mounts.v2 && /\bcpu\b/.test(readFileSync(`${mounts.v2}/cgroup.controllers`, 'utf8')); } catch { return false; } // no v2 mount
})();
const dir = v2 ? `${mounts.v2}/${name}` : `${mounts.v1cpu}/${name}`;
let burner: LineChild | undefined;

before(async () => {
  mkdirSync(dir);
  if (v2) writeFileSync(`${dir}/cpu.max`, '10000 100000');
  else { writeFileSync(`${dir}/cpu.cfs_period_us`, '100000'); writeFileSync(`${dir}/cpu.cfs_quota_us`, '10000'); }
  // the child moves itself into the cgroup, then spins
  burner = new LineChild('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && echo in && exec sh -c 'while :; do :; done'`]);
  await burner.waitLine(/^in$/);
});
after(async () => {
  await burner?.kill();
  // the cgroup can be removed once its last process is gone (a few ms after the kill)
  for (let i = 0; i < 50 && existsSync(dir); i++) {
    try { rmdirSync(dir); } catch { await new Promise((r) => setTimeout(r, 20)); } // still busy: try again
  }
});

test('the limited cgroup is reported with its throttling over the interval', () => {
  const r = runIgSync(['run', 'top_cpu_throttle', '-o', 'json', '--interval', '1s', '--count', '2'], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const reports = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as CgRec[]);
  assert.equal(reports.length, 3, 'first-interval report, then --count 2 interval reports');
  const rec = reports[2]!.find((c) => c.cgroupPath === `/${name}`);
  assert.ok(rec, JSON.stringify(reports[2]));
  // about 10 periods of 100 ms in one second, throttled in nearly all of them
  assert.ok(rec.nrPeriods >= 5 && rec.nrPeriods <= 15, `periods ${rec.nrPeriods}`);
  assert.ok(rec.nrThrottled >= rec.nrPeriods - 2, `throttled ${rec.nrThrottled} of ${rec.nrPeriods}`);
  assert.ok(rec.throttleRatio >= 70 && rec.throttleRatio <= 100, `ratio ${rec.throttleRatio}`);
  // each throttled period waits ~90 ms for the next one
  assert.ok(rec.throttledTime_raw > 300e6 && rec.throttledTime_raw < 1.5e9, `throttled ${rec.throttledTime_raw} ns`);
  assert.match(rec.throttledTime, /ms$|s$/);
  assert.equal(rec.cpuQuota_raw, 10e6);
  assert.equal(rec.cpuQuota, '10ms');
  assert.equal(rec.cpuPeriod_raw, 100e6);
  assert.equal(rec.cpuLimitCores, 0.1);
  assert.ok(rec.mountnsid > 0);
});

test('text output: upstream aliases, CGROUP hidden; an unlimited cgroup is never listed', () => {
  const r = runIgSync(['run', 'top_cpu_throttle', '--interval', '500ms', '--count', '1', '--fields', '+cgroupPath'], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const header = r.stdout.split('\n').find((l) => l.includes('PERIODS'))!;
  for (const col of ['CGROUP', 'PERIODS', 'THROTTLED', 'THROTTLED_TIME', '%THROT', 'QUOTA', 'LIMIT', '%PSI10', '%PSI60']) {
    assert.ok(header.split(/\s+/).includes(col), `${col} in ${header}`);
  }
  assert.ok(!header.split(/\s+/).includes('PERIOD'), 'PERIOD is hidden');
  assert.match(r.stdout, new RegExp(`/${name}\\s`));
  const plain = runIgSync(['run', 'top_cpu_throttle', '--interval', '500ms', '--count', '1'], { timeoutMs: 30000 });
  assert.ok(!plain.stdout.split('\n')[0]!.split(/\s+/).includes('CGROUP'), 'CGROUP hidden by default');
});
