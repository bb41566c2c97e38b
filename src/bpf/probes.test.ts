// Raw tracepoint, uprobe on libc getpid, perf event (software cpu-clock) sampling.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { BpfObject, PerfSwConfig, PerfType } from './object.js';
import {
  compileBpf, getppidLoop, orphanedPrograms, removeBuildDir, setupKernel, skipReason, sumPerCpuU64, u32, waitFor,
} from './testutil.js';

const LIBC = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6'].find((p) => existsSync(p));
const PYTHON = ['/usr/bin/python3'].find((p) => existsSync(p));

function hits(obj: BpfObject, idx: number): bigint {
  const v = obj.map('hits').lookup(u32(idx));
  assert.ok(v);
  return sumPerCpuU64(v);
}

describe('probes', { skip: skipReason }, () => {
  let objPath = '';
  before(() => {
    setupKernel();
    objPath = compileBpf('probes');
  });
  after(async () => {
    removeBuildDir();
    await waitFor(() => orphanedPrograms(['igt_pr_']).length === 0, 3000, 50);
    assert.deepEqual(orphanedPrograms(['igt_pr_']), []);
  });

  it('raw tracepoint sys_enter counts our getppid calls', () => {
    const obj = BpfObject.open(objPath, 'probes');
    try {
      obj.setVar('target_pid', u32(process.pid)).load();
      const link = obj.attachRawTracepoint('igt_pr_rawtp', 'sys_enter');
      getppidLoop(300);
      const n = hits(obj, 0);
      assert.ok(n >= 300n && n < 400n, `raw_tp hits ${n}`);
      link.destroy();
      getppidLoop(100);
      assert.equal(hits(obj, 0), n);
    } finally {
      obj.close();
    }
  });

  it('uprobe on libc getpid fires for a child process', { skip: !LIBC || !PYTHON ? 'no libc/python3' : false }, async () => {
    const obj = BpfObject.open(objPath, 'probes');
    const child = spawn(PYTHON!, ['-c', 'import os,sys\nsys.stdin.readline()\nfor _ in range(1000): os.getpid()\nprint("done", flush=True)'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      obj.load();
      const link = obj.attachUprobe('igt_pr_uprobe', { binaryPath: LIBC!, func: 'getpid', pid: child.pid! });
      assert.match(link.description, /uprobe .*libc\.so\.6:getpid/);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      child.stdin!.write('go\n');
      assert.equal(await exited, 0);
      assert.match(out, /done/);
      const n = hits(obj, 1);
      assert.ok(n >= 1000n, `uprobe hits ${n}`);
      assert.throws(
        () => obj.attachUprobe('igt_pr_uprobe', { binaryPath: LIBC!, func: 'no_such_symbol_xyz' }),
        /attach uprobe .*no_such_symbol_xyz.* for program igt_pr_uprobe/,
      );
    } finally {
      child.kill();
      obj.close();
    }
  });

  it('kprobe attach works or fails naming the program and the function', () => {
    const obj = BpfObject.open(objPath, 'probes');
    try {
      obj.load();
      try {
        obj.attachKprobe('igt_pr_uprobe', 'do_sys_openat2').destroy(); // kernels with kprobes
      } catch (e) {
        assert.match((e as Error).message, /^attach kprobe do_sys_openat2 for program igt_pr_uprobe: /);
        assert.equal(typeof (e as { errno?: number }).errno, 'number');
      }
    } finally {
      obj.close();
    }
  });

  it('perf event cpu-clock sampling on every CPU', async () => {
    const obj = BpfObject.open(objPath, 'probes');
    try {
      obj.load();
      const links = obj.attachPerfEventAllCpus('igt_pr_perf', { type: PerfType.Software, config: PerfSwConfig.CpuClock, freq: 1000 });
      assert.ok(links.length >= 1);
      const end = Date.now() + 300;
      let x = 0;
      while (Date.now() < end) x += Math.sqrt(x + 1);
      assert.ok(x > 0);
      assert.ok(await waitFor(() => hits(obj, 2) > 10n, 2000), `perf hits ${hits(obj, 2)}`);
      for (const l of links) l.destroy();
      const n = hits(obj, 2);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(hits(obj, 2), n, 'no samples after destroy');
      assert.throws(
        () => obj.attachPerfEvent('igt_pr_perf', { type: PerfType.Hardware, config: 0, freq: 1000, cpu: 0 }),
        (e: Error & { errno?: number }) => /perf event type 0 config 0 on cpu 0 for program igt_pr_perf/.test(e.message) && typeof e.errno === 'number',
      );
    } finally {
      obj.close();
    }
  });
});
