// Record a live run of real gadgets (ig run --record), replay it with the same flags (ig replay) and compare what
// both printed, byte for byte: timestamps, user names, executables and container fields in the replay come from
// the recording. Also: a recording whose ig was killed (-9) mid-run, and damaged files, replay up to the damage.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, runIgSync } from '../harness/ig.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-rec-h18rec-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const marker = join(dir, 'marker.txt');
writeFileSync(marker, 'x\n'.repeat(1000));
// Our own command name, filtered in the kernel (--comm): the recordings hold our events, not the busy host's.
const COMM = 'h18reccat';
const cat = join(dir, COMM);
copyFileSync('/bin/cat', cat);
spawnSync('chmod', ['755', cat]);

/** Activity every gadget here sees: opens, execs, reads and writes of files, synced block I/O. */
function poke(): void {
  spawnSync('sh', ['-c', `${cat} ${marker} > ${join(dir, 'out.txt')}; sync ${join(dir, 'out.txt')}`]);
}

/** Poke until `done(stdout)` or the time is up; then stop ig (SIGINT) and return what it printed. */
async function liveRun(args: string[], done: (stdout: string) => boolean, minMs = 1500, maxMs = 25000): Promise<{ stdout: string; stderr: string }> {
  const ig = new IgProcess(args);
  const t0 = Date.now();
  while (Date.now() - t0 < maxMs) {
    poke();
    await new Promise((r) => setTimeout(r, 200));
    if (ig.child.exitCode !== null) break;
    if (Date.now() - t0 > minMs && done(ig.stdout)) break;
  }
  const r = await ig.stop();
  assert.equal(r.code, 0, `ig ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

/** -o none shows nothing: wait for -v's line saying the reader records (the programs are attached before). */
async function readerRecording(ig: IgProcess): Promise<void> {
  const t0 = Date.now();
  while (!/open: records recorded on the reader thread/.test(ig.stderr)) {
    assert.ok(ig.child.exitCode === null && Date.now() - t0 < 30000, `ig did not start recording: ${ig.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function replay(file: string, flags: string[]): { stdout: string; stderr: string; code: number | null } {
  const r = runIgSync(['replay', file, ...flags], { timeoutMs: 60000 });
  return r;
}

// done: the live run saw our activity (checked while it runs, to stop early, and after). maxMs: profilers print
// when they stop, so they run that long.
// absent: what neither prints (trace_exec's json.skip fields).
const cases: { gadget: string; flags: string[]; done: (s: string) => boolean; maxMs?: number; absent?: RegExp }[] = [
  { gadget: 'trace_open', flags: ['--host', '--comm', COMM, '-o', 'json'], done: (s) => s.includes(marker) },
  { gadget: 'trace_open', flags: ['--host', '--comm', COMM, '--filter', 'fname~marker', '--fields', 'timestamp,proc.comm,proc.pid,proc.exe,proc.creds.user,fname,error'], done: (s) => s.includes(COMM) },
  // trace_exec's kernel filter sees the command name before the exec: filtered after it, in the pipeline.
  { gadget: 'trace_exec', flags: ['--host', '--filter', `proc.comm==${COMM}`, '-o', 'json'], done: (s) => s.includes(marker), absent: /"args_(count|size)"/ },
  { gadget: 'trace_exec', flags: ['--host', '--filter', `proc.comm==${COMM}`, '-o', 'columns'], done: (s) => s.includes(COMM) },
  { gadget: 'top_file', flags: ['--host', '--comm', COMM, '-o', 'json', '--map-fetch-interval', '500ms'], done: (s) => s.split('\n').filter((l) => l.includes(COMM)).length >= 3 },
  { gadget: 'top_file', flags: ['--host', '--comm', COMM, '--map-fetch-interval', '500ms', '--sort', '-rbytes', '--max-entries', '5'], done: (s) => s.split('\n').filter((l) => l.includes(COMM)).length >= 6 },
  { gadget: 'profile_blockio', flags: ['--host', '-o', 'json'], done: (s) => /"count":[1-9]/.test(s), maxMs: 3000 },
  { gadget: 'profile_blockio', flags: ['--host'], done: (s) => /µs/.test(s), maxMs: 3000 },
];

for (const [k, c] of cases.entries()) {
  test(`${c.gadget} ${c.flags.join(' ')}: the replay prints exactly what the live run printed`, async () => {
    const file = join(dir, `${c.gadget}-${k}.igrec`);
    const live = await liveRun(['run', c.gadget, ...c.flags, '--record', file], c.done, 1500, c.maxMs);
    assert.ok(c.done(live.stdout), `the live run did not see our activity: ${live.stderr}\n${live.stdout.slice(0, 2000)}`);
    // Replays ask no runtime and load nothing: only the recording decides what they print.
    const r = replay(file, c.flags);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, live.stdout, `replay differs from the live run (${c.gadget} ${c.flags.join(' ')})`);
    if (c.absent) assert.doesNotMatch(live.stdout, c.absent);
    assert.equal(r.stderr.includes('replay stopped'), false, r.stderr);
  });
}

test('replay --info summarises a recording: image, duration, records, lost events, end', async () => {
  const file = join(dir, 'trace_open-0.igrec');
  assert.ok(existsSync(file));
  const r = runIgSync(['replay', '--info', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Image: +ghcr\.io\/inspektor-gadget\/gadget\/trace_open:latest sha256:[0-9a-f]{64}$/m);
  assert.match(r.stdout, /^Duration: +\d+\.\d{3}s$/m);
  assert.match(r.stdout, /^Ended: +SIGINT|^Ended: +signal/m);
  assert.match(r.stdout, /^ {2}open: [1-9]\d* records in \d+ batches, \d+ lost$/m);
  assert.match(r.stdout, /^Host facts: .*clock 1/m);
});

test('a replay renders recorded JSON and columns with the native plan, byte for byte as the JS pipeline does', () => {
  const file = join(dir, 'trace_open-0.igrec');
  for (const flags of [['-o', 'json'], ['-o', 'columns'], ['-o', 'json', '--filter', 'fname~marker']]) {
    const native = replay(file, [...flags, '-v']);
    assert.equal(native.code, 0, native.stderr);
    assert.match(native.stderr, /open: recorded records rendered by the native plan/);
    const js = runIgSync(['replay', file, ...flags], { env: { IG_NATIVE_RENDER: '0' } });
    assert.equal(js.code, 0, js.stderr);
    assert.ok(js.stdout.length > 0);
    assert.equal(native.stdout, js.stdout, `native and JS replays differ (${flags.join(' ')})`);
  }
});

test('a replay filters, selects fields and changes the output mode of what was recorded as JSON', () => {
  const file = join(dir, 'trace_open-0.igrec');
  const all = replay(file, ['-o', 'json']);
  const cats = replay(file, ['-o', 'json', '--filter', 'fname~marker', '--fields', 'proc.comm,fname']);
  assert.equal(cats.code, 0, cats.stderr);
  const lines = cats.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { proc: { comm: string }; fname: string });
  assert.ok(lines.length > 0);
  assert.ok(lines.every((l) => l.proc.comm === COMM && Object.keys(l).sort().join() === 'fname,proc'));
  assert.ok(lines.some((l) => l.fname === marker));
  const expected = all.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { proc: { comm: string }; fname: string })
    .filter((e) => e.fname.includes('marker')).map((e) => e.fname);
  assert.deepEqual(lines.map((l) => l.fname), expected);
  const yaml = replay(file, ['-o', 'yaml', '--filter', 'fname~marker']);
  assert.match(yaml.stdout, /^---\n/);
});

test('a run recorded with -o none (nothing shown live) replays with names: the host users and groups are recorded at start', async () => {
  const file = join(dir, 'none.igrec');
  const ig = new IgProcess(['run', 'trace_open', '--host', '--comm', COMM, '-o', 'none', '-v', '--record', file]);
  // Nothing reads the records in JS: the reader thread hands them to the native recorder itself.
  await readerRecording(ig);
  for (let i = 0; i < 8; i++) { poke(); await new Promise((r) => setTimeout(r, 200)); }
  const live = await ig.stop();
  assert.equal(live.code, 0, live.stderr);
  assert.equal(live.stdout, '');
  const r = replay(file, ['-o', 'json', '--fields', 'proc.comm,proc.creds.user,proc.creds.group,fname']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { proc: { comm: string; creds: { user: string; group: string } }; fname: string });
  assert.ok(lines.some((l) => l.fname === marker), 'our opens were recorded');
  assert.ok(lines.every((l) => l.proc.comm === COMM && l.proc.creds.user === 'root' && l.proc.creds.group === 'root'));
});

test('a recording whose ig was killed (-9) mid-run replays what it wrote, a prefix of what the live run printed', async () => {
  const file = join(dir, 'killed.igrec');
  const ig = new IgProcess(['run', 'trace_open', '--host', '--comm', COMM, '-o', 'json', '--record', file]);
  await ig.waitFor((e: { fname?: string }) => e.fname === marker, poke);
  // More than a second of events after the first: at least one chunk is on disk.
  for (let i = 0; i < 12; i++) { poke(); await new Promise((r) => setTimeout(r, 200)); }
  const live = await ig.stop('SIGKILL');
  assert.equal(live.signal, 'SIGKILL');
  const r = replay(file, ['-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(marker), 'the replay shows the events recorded before the kill');
  assert.ok(live.stdout.startsWith(r.stdout), 'the replay prints a prefix of what the live run printed');
  const warn = r.stderr.trim().split('\n');
  assert.equal(warn.length, 1, r.stderr);
  assert.match(warn[0]!, /^WARN: recording .*killed\.igrec: ends at byte \d+ without an end mark/);
});

test('-o none: a recording written by the reader thread whose ig was killed (-9) replays what it wrote', async () => {
  const file = join(dir, 'killed-none.igrec');
  const ig = new IgProcess(['run', 'trace_open', '--host', '--comm', COMM, '-o', 'none', '-v', '--record', file]);
  await readerRecording(ig);
  // No output to wait for: poke for 3 s (a chunk is sealed at most a second after its first entry).
  for (let i = 0; i < 15; i++) { poke(); await new Promise((r) => setTimeout(r, 200)); }
  const live = await ig.stop('SIGKILL');
  assert.equal(live.signal, 'SIGKILL');
  const r = replay(file, ['-o', 'json', '--fields', 'proc.comm,fname']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { proc: { comm: string }; fname: string });
  assert.ok(lines.some((l) => l.fname === marker), 'the replay shows the events recorded before the kill');
  assert.ok(lines.every((l) => l.proc.comm === COMM));
  assert.match(r.stderr.trim(), /^WARN: recording .*killed-none\.igrec: ends at byte \d+ without an end mark[^\n]*$/);
});

test('a truncated or corrupted recording replays up to the damage and says where it stopped, in one line', () => {
  const src = join(dir, 'trace_open-0.igrec');
  const full = replay(src, ['-o', 'json']);
  const bytes = readFileSync(src);
  const cut = join(dir, 'cut.igrec');
  // Into the last chunk (the image is in the first, the events after it).
  writeFileSync(cut, bytes.subarray(0, bytes.length - 40));
  const r = replay(cut, ['-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(full.stdout.startsWith(r.stdout));
  assert.match(r.stderr.trim(), /^WARN: recording .*cut\.igrec: (replay stopped at byte \d+ of \d+: .*|ends at byte \d+ without an end mark.*)$/);

  const bad = join(dir, 'flipped.igrec');
  const copy = Buffer.from(bytes);
  const at = copy.length - 30;
  copy[at] = copy[at]! ^ 0x5a;
  writeFileSync(bad, copy);
  const f = replay(bad, ['-o', 'json']);
  assert.equal(f.code, 0, f.stderr);
  assert.ok(full.stdout.startsWith(f.stdout));
  assert.match(f.stderr.trim(), /^WARN: recording .*flipped\.igrec: replay stopped at byte \d+ of \d+: [^\n]+$/);

  const empty = join(dir, 'empty.igrec');
  writeFileSync(empty, '');
  const e = replay(empty, []);
  assert.equal(e.code, 1);
  assert.match(e.stderr.trim(), /^Error: recording .*empty\.igrec: not an ig recording/);
  assert.equal(e.stderr.trim().split('\n').length, 1);
  truncateSync(empty, 0);
  assert.equal(statSync(empty).size, 0);
});
