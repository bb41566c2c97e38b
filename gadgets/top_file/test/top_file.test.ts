// top_file: a child reads and writes a file in a loop; ig reports its reads/writes per interval, sorted, as one
// JSON array or one table per interval when piped, and redraws the screen on a terminal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { runIgSync } from '../../../test/harness/ig.js';
import { runIgInPty, tempDir } from '../../../test/harness/workload.js';
import { ProgTap, waitUnloaded } from '../../../test/harness/owned-progs.js';

interface FileStat {
  proc: { comm: string; pid: number; tid: number };
  reads: number; rbytes_raw: number; rbytes: string; writes: number; wbytes_raw: number; wbytes: string; file: string; t: string; t_raw: number;
}

const tmp = tempDir('ig-top-file-');
const path = join(tmp.dir, 'data.bin');
// Every 20 ms: write 1000 bytes, read them back (two syscalls each, on one regular file).
const WORKER = `
const fs = require('fs');
const fd = fs.openSync(${JSON.stringify(path)}, 'w+');
const buf = Buffer.alloc(1000, 1);
setInterval(() => { fs.writeSync(fd, buf, 0, 1000, 0); fs.readSync(fd, buf, 0, 1000, 0); }, 20);
`;
const worker: ChildProcess = spawn(process.execPath, ['-e', WORKER], { stdio: 'ignore' });
const tap = new ProgTap();
after(() => { worker.kill('SIGKILL'); tmp.cleanup(); tap.cleanup(); });

const base = ['run', 'top_file', '--host', '--pid', String(worker.pid), '--map-fetch-interval', '400ms', '--map-fetch-count', '3'];

function arrays(stdout: string): FileStat[][] {
  return stdout.split('\n').filter((l) => l.startsWith('[')).map((l) => JSON.parse(l) as FileStat[]);
}

test('piped -o json: one array per interval with the file, the process and per-interval counts', () => {
  const r = runIgSync([...base, '-o', 'json'], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes('\x1b['), 'no terminal control sequences when piped');
  const batches = arrays(r.stdout);
  assert.equal(batches.length, 3, `--map-fetch-count 3 gives 3 arrays: ${r.stdout.slice(0, 300)}`);
  const rows = batches.map((b) => b.find((e) => e.file === path));
  const seen = rows.filter(Boolean) as FileStat[];
  assert.ok(seen.length >= 2, `the file shows up in the intervals: ${r.stdout.slice(0, 400)}`);
  for (const e of seen) {
    assert.equal(e.proc.pid, worker.pid);
    assert.equal(e.proc.comm, 'node');
    assert.equal(e.t, 'R');
    assert.ok(e.writes > 0 && e.reads > 0, JSON.stringify(e));
    assert.equal(e.wbytes_raw, e.writes * 1000, 'every write is 1000 bytes');
    assert.equal(e.rbytes_raw, e.reads * 1000, 'every read is 1000 bytes');
    // upstream's names: the byte counts are rbytes_raw/wbytes_raw, rbytes/wbytes their text
    if (e.wbytes_raw > 0) assert.match(e.wbytes, /B$/);
    // 400 ms at one write per 20 ms: per-interval values (the map is drained), not a running total.
    assert.ok(e.writes <= 40, `per interval: ${e.writes} writes`);
  }
  // Default sort: -reads,-writes,-rbytes_raw,-wbytes_raw.
  for (const b of batches) {
    for (let i = 1; i < b.length; i++) assert.ok(b[i - 1]!.reads >= b[i]!.reads, `sorted by reads: ${b.map((e) => e.reads)}`);
  }
  assert.ok(batches.flat().every((e) => e.proc.pid === worker.pid), '--pid filters in the kernel');
});

test('piped columns: one table (header and rows) per interval', () => {
  const r = runIgSync([...base, '--fields', 'proc.comm,proc.pid,reads,rbytes,writes,wbytes,file,t'], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const headers = lines.filter((l) => /^COMM\s+PID\s+READS\s+RBYTES\s+WRITES\s+WBYTES\s+FILE\s+T$/.test(l));
  assert.equal(headers.length, 3, r.stdout);
  const row = lines.find((l) => l.includes(path));
  assert.ok(row, r.stdout);
  // RBYTES/WBYTES are the text of rbytes_raw/wbytes_raw (e.g. "20 kB")
  const bytes = '[\\d.]+ [kMGT]?B';
  assert.match(row!, new RegExp(`^node\\s+${worker.pid}\\s+\\d+\\s+${bytes}\\s+\\d+\\s+${bytes}\\s+${path.replace(/[.]/g, '\\.')}\\s+R$`));
  assert.ok(!r.stdout.includes('\x1b['));
});

test('on a terminal the screen is cleared and redrawn every interval', () => {
  const r = runIgInPty([...base, '--fields', 'proc.comm,proc.pid,reads,writes,file'], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.output);
  const frames = r.output.split('\x1b[H\x1b[2J');
  assert.equal(frames.length - 1, 3, `one clear per interval: ${JSON.stringify(r.output.slice(0, 200))}`);
  for (const f of frames.slice(1)) assert.match(f, /^COMM\s+PID\s+READS\s+WRITES\s+FILE\r?\n/);
});

test('the default sort can be overridden and --max-entries limits each table', () => {
  const r = runIgSync(['run', 'top_file', '--host', '-o', 'json', '--map-fetch-interval', '300ms', '--map-fetch-count', '2', '--sort', '-wbytes_raw', '--max-entries', '2'], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  const batches = arrays(r.stdout);
  assert.equal(batches.length, 2);
  for (const b of batches) {
    assert.ok(b.length <= 2, `at most 2 entries: ${b.length}`);
    if (b.length === 2) assert.ok(b[0]!.wbytes_raw >= b[1]!.wbytes_raw);
  }
});

test('nothing stays loaded after the run', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
