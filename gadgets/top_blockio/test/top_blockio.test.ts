// top_blockio: O_DIRECT reads and writes on a loop device made by the test; ig reports them per process, device
// and direction, with exact byte and request counts, one table or JSON array per interval.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess, runIgSync } from '../../../test/harness/ig.js';
import { makeLoopDevice, runIgInPty, tempDir, type LoopDevice } from '../../../test/harness/workload.js';
import { waitOwnProgram } from '../../../test/harness/owned-progs.js';

// upstream's key: struct gadget_process proc, rw_raw, major, minor
interface BlockStat { proc: { pid: number; tid: number; comm: string; creds: { uid: number; gid: number }; parent: { pid: number } }; rw: string; major: number; minor: number; bytes: number; us: number; io: number }

const tmp = tempDir('ig-top-blockio-');
let loop: LoopDevice;
before(() => { loop = makeLoopDevice(tmp.dir, 32); });
after(() => { loop?.detach(); tmp.cleanup(); });

/** dd with O_DIRECT: every block is one request to the device. */
function dd(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('dd', [...args, 'status=none'], { stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? resolve(c.pid!) : reject(new Error(`dd ${args.join(' ')} exited ${code}`))));
  });
}

test('JSON: writes and reads of dd on the loop device, exact bytes and requests, per direction', async () => {
  const ig = new IgProcess(['run', 'top_blockio', '--host', '--comm', 'dd', '-o', 'json', '--map-fetch-interval', '300ms']);
  await waitOwnProgram(ig.pid, 'ig_topio_done');
  const wpid = await dd(['if=/dev/zero', `of=${loop.path}`, 'bs=64k', 'count=64', 'oflag=direct']);
  const rpid = await dd([`if=${loop.path}`, 'of=/dev/null', 'bs=64k', 'count=32', 'iflag=direct']);
  await new Promise((r) => setTimeout(r, 800)); // at least one more fetch
  const res = await ig.stop();
  assert.equal(res.code, 0, res.stderr);
  const all = ig.events<BlockStat[]>().flat().filter((e) => e.major === loop.major && e.minor === loop.minor);
  const sum = (pid: number, rw: string, k: 'bytes' | 'io') => all.filter((e) => e.proc.pid === pid && e.rw === rw).reduce((a, e) => a + e[k], 0);
  assert.equal(sum(wpid, 'write', 'bytes'), 64 * 65536, JSON.stringify(all));
  assert.equal(sum(wpid, 'write', 'io'), 64);
  assert.equal(sum(rpid, 'read', 'bytes'), 32 * 65536);
  assert.equal(sum(rpid, 'read', 'io'), 32);
  assert.ok(all.every((e) => e.proc.comm === 'dd' && e.proc.tid === e.proc.pid && e.proc.parent.pid === process.pid), JSON.stringify(all));
  assert.ok(all.some((e) => e.us > 0), 'time spent in the device');
  assert.ok(ig.events<BlockStat[]>().flat().every((e) => e.proc.comm === 'dd'), '--comm filters in the kernel');
});

test('columns and terminal: a table per interval, redrawn on a terminal', async () => {
  const writer = spawn('sh', ['-c', `while :; do dd if=/dev/zero of=${loop.path} bs=4k count=16 oflag=direct status=none; sleep 0.05; done`], { stdio: 'ignore' });
  try {
    const r = runIgSync(['run', 'top_blockio', '--host', '--comm', 'dd', '--map-fetch-interval', '400ms', '--map-fetch-count', '3', '--fields', 'proc.comm,rw,major,minor,bytes,io'], { timeoutMs: 30000 });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines.filter((l) => /^COMM\s+RW\s+MAJOR MINOR\s+BYTES\s+IO$/.test(l)).length, 3, r.stdout);
    assert.ok(lines.some((l) => new RegExp(`^dd\\s+write\\s+${loop.major}\\s+${loop.minor}\\s+\\d+\\s+\\d+$`).test(l)), r.stdout);
    const t = runIgInPty(['run', 'top_blockio', '--host', '--comm', 'dd', '--map-fetch-interval', '300ms', '--map-fetch-count', '2'], { timeoutMs: 30000 });
    assert.equal(t.code, 0, t.output);
    assert.equal(t.output.split('\x1b[H\x1b[2J').length - 1, 2);
  } finally {
    // The loop's last dd (a few 4 KiB writes) ends on its own.
    writer.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
  }
});
