// traceloop: nothing is printed while it runs; when ig is stopped with SIGINT it dumps the last syscalls of
// each mount namespace with names, decoded parameters and return values. A copy of cat with a unique name is
// the traced workload (--comm filters in the kernel).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess, runIgSync } from '../../../test/harness/ig.js';
import { tempDir } from '../../../test/harness/workload.js';
import { ownedMapValue, ProgTap, waitOwnProgram, waitUnloaded } from '../../../test/harness/owned-progs.js';

interface Rec {
  mntns_id: number; timestamp: string; timestamp_raw: number; cpu: number; pid: number; tid: number; comm: string;
  syscall: string; syscall_raw: number; parameters: string; args: number[]; ret: string; ret_raw: number; completed: boolean;
}

const tmp = tempDir('ig-traceloop-');
const COMM = 'igtloopcat';
const cat = join(tmp.dir, COMM);
copyFileSync('/bin/cat', cat);
const tap = new ProgTap();
after(() => { tmp.cleanup(); tap.cleanup(); });

async function record(extra: string[], workload: () => void): Promise<IgProcess> {
  const ig = new IgProcess(['run', 'traceloop', '--host', '--comm', COMM, ...extra], tap.env);
  await waitOwnProgram(ig.pid, 'ig_traceloop_x');
  // --syscall-filters takes effect when the WASM module's gadgetStart has filled the maps, after the programs are
  // attached (as upstream's): until then every syscall is recorded.
  if (extra.includes('--syscall-filters')) {
    const deadline = Date.now() + 20000;
    while (ownedMapValue(ig.pid, 'syscall_enable_filters', Buffer.alloc(4))?.[0] !== 1) {
      if (Date.now() > deadline) { await ig.stop('SIGKILL'); throw new Error('the syscall filter was not enabled in time'); }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  workload();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(ig.stdout.split('\n').filter((l) => l.trim() && !/^RUNTIME/.test(l)).length, 0, 'nothing is printed while recording');
  const r = await ig.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  return ig;
}

test('the dump at SIGINT has the workload\'s syscalls with names, parameters and return values', async () => {
  let pid = 0;
  const ig = await record(['-o', 'json'], () => {
    const r = spawnSync(cat, ['/etc/hostname', '/nonexistent/ig-traceloop'], { encoding: 'utf8' });
    assert.equal(r.status, 1, 'cat fails on the missing file');
    pid = r.pid!;
  });
  const arrays = ig.stdout.trim().split('\n').filter((l) => l.startsWith('['));
  assert.equal(arrays.length, 1, 'one dump, at stop');
  const recs = (JSON.parse(arrays[0]!) as Rec[]).filter((r) => r.pid === pid);
  assert.ok(recs.length > 10, `records of the workload: ${arrays[0]!.slice(0, 300)}`);
  assert.ok(recs.every((r) => r.comm === COMM));

  const hostname = spawnSync('cat', ['/etc/hostname'], { encoding: 'utf8' }).stdout;
  const open = recs.find((r) => r.syscall === 'openat' && r.parameters.includes('filename="/etc/hostname"'));
  assert.ok(open, recs.map((r) => `${r.syscall}(${r.parameters}) = ${r.ret}`).join('\n'));
  assert.match(open!.parameters, /^dfd=-100, filename="\/etc\/hostname", flags=\d+, mode=\d+$/);
  const fd = Number(open!.ret);
  assert.ok(fd >= 3, `openat returned a file descriptor: ${open!.ret}`);
  assert.equal(open!.ret_raw, fd);

  // fd numbers are reused (ld.so read libc through fd 3 too): the first read after this openat.
  const read = recs.slice(recs.indexOf(open!)).find((r) => r.syscall === 'read' && r.parameters.startsWith(`fd=${fd}, `));
  assert.ok(read, 'read from the file');
  assert.match(read!.parameters, new RegExp(`^fd=${fd}, buf=0x[0-9a-f]+, count=\\d+$`));
  assert.equal(Number(read!.ret), Buffer.byteLength(hostname));
  assert.ok(recs.some((r) => r.syscall === 'write' && r.parameters.startsWith('fd=1, ') && Number(r.ret) === Buffer.byteLength(hostname)), 'write to stdout');
  assert.ok(recs.slice(recs.indexOf(open!)).some((r) => r.syscall === 'close' && r.parameters === `fd=${fd}` && r.ret === '0'), 'close');

  const missing = recs.find((r) => r.syscall === 'openat' && r.parameters.includes('"/nonexistent/ig-traceloop"'));
  assert.equal(missing?.ret, '-1 (ENOENT)');
  assert.equal(missing!.ret_raw, -2);

  const exit = recs.find((r) => r.syscall === 'exit_group');
  assert.ok(exit, 'exit_group, which never returns');
  assert.equal(exit!.ret, 'X');
  assert.equal(exit!.completed, false);
  assert.equal(exit!.parameters, 'error_code=1');

  // In time order (sort: timestamp_raw), ending with exit_group; wall-clock timestamps.
  for (let i = 1; i < recs.length; i++) assert.ok(recs[i - 1]!.timestamp_raw <= recs[i]!.timestamp_raw);
  assert.equal(recs[recs.length - 1]!.syscall, 'exit_group');
  assert.ok(Math.abs(Date.parse(open!.timestamp) - Date.now()) < 60000, open!.timestamp);
  const mntns = Number(/\[(\d+)\]/.exec(spawnSync('readlink', ['/proc/self/ns/mnt'], { encoding: 'utf8' }).stdout)![1]);
  assert.ok(recs.every((r) => r.mntns_id === mntns));
});

test('columns: CPU, PID, COMM, SYSCALL, PARAMETERS and RET, like upstream', async () => {
  const ig = await record(['--fields', 'cpu,pid,comm,syscall,parameters,ret'], () => {
    spawnSync(cat, ['/nonexistent/ig-traceloop-cols']);
  });
  const lines = ig.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^CPU\s+PID COMM\s+SYSCALL\s+PARAMETERS\s+RET$/);
  assert.ok(lines.some((l) => /^\s*\d+\s+\d+ igtloopcat\s+openat\s+dfd=-100, filename="\/nonexistent\/ig-traceloop-col.*\s+-1 \(ENOENT\)$/.test(l)), ig.stdout.slice(0, 2000));
  assert.ok(lines.some((l) => /\sexit_group\s+error_code=1\s+X$/.test(l)));
});

test('--syscall-filters (upstream\'s param, set by the WASM module): only the named syscalls are recorded', async () => {
  let pid = 0;
  const ig = await record(['-o', 'json', '--syscall-filters', 'openat,close'], () => {
    const r = spawnSync(cat, ['/etc/hostname'], { encoding: 'utf8' });
    pid = r.pid!;
  });
  const arrays = ig.stdout.trim().split('\n').filter((l) => l.startsWith('['));
  const recs = (JSON.parse(arrays[0]!) as Rec[]).filter((r) => r.pid === pid);
  assert.ok(recs.some((r) => r.syscall === 'openat' && r.parameters.includes('filename="/etc/hostname"')), JSON.stringify(recs).slice(0, 500));
  assert.ok(recs.some((r) => r.syscall === 'close'));
  assert.deepEqual([...new Set(recs.map((r) => r.syscall))].sort(), ['close', 'openat']);
});

test('--syscall-filters with an unknown name or more than 16 names ends in one line naming the problem', () => {
  const bad = runIgSync(['run', 'traceloop', '--host', '--syscall-filters', 'openat,nosuchcall', '--timeout', '5'], { timeoutMs: 30000 });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--syscall-filters: unknown syscall nosuchcall/);
  const many = Array.from({ length: 17 }, () => 'read').join(',');
  const lots = runIgSync(['run', 'traceloop', '--host', '--syscall-filters', many, '--timeout', '5'], { timeoutMs: 30000 });
  assert.notEqual(lots.code, 0);
  assert.match(lots.stderr, /--syscall-filters: at most 16 syscalls/);
});

test('a fetch interval beyond what timers can wait, or a count with interval 0, is one clear error', () => {
  const a = runIgSync(['run', 'traceloop', '--host', '--map-fetch-interval', '600h']);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /^Error: invalid value "600h" for --map-fetch-interval: 600h is too long: the longest interval is 2147483647 ms/);
  assert.equal(a.stderr.trim().split('\n').length, 1);
  const b = runIgSync(['run', 'traceloop', '--host', '--map-fetch-interval', '0', '--map-fetch-count', '2']);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /^Error: --map-fetch-interval 0 \(fetch once, when the gadget stops\) cannot be combined with --map-fetch-count 2/);
  const c = runIgSync(['run', 'traceloop', '--host', '--map-fetch-interval', 'nope:1s']);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /no map iterator data source "nope" \(have: traceloop\)/);
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
