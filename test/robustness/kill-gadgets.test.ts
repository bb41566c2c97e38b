// Kill test: official gadgets started and killed (SIGINT, SIGTERM, SIGKILL at random points, including the
// load/attach window) over a hundred times; afterwards nothing of theirs may survive: programs, maps, links,
// tracefs probe entries, qdiscs (network gadgets run in a netns of this test), pins, the store lock, processes.
// Everything is identified by ids this test owns (see test/harness/leaks.ts); other ig processes may be running.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportImages, getGadgetImage, importImages } from '../../src/oci/index.js';
import { IG_MAIN } from '../harness/ig.js';
import { groupAlive, kernelBaseline, leakedKernelObjects, objectNames, probeEntriesOf, processesWithMarker, type KernelBaseline } from '../harness/leaks.js';

const RUNS = 104;
const PARALLEL = 4;
/** kill somewhere in the first 2.5 s: ig needs ~2 s to load and attach on a busy 2-core machine */
const MAX_DELAY_MS = 2500;
// [gadget, runs in the test's netns]: tracepoints, kprobes, uprobes (trace_malloc), socket filters (trace_dns), iterators
const GADGETS: [string, boolean][] = [
  ['trace_open', false], ['trace_exec', false], ['trace_tcp', true], ['trace_dns', true], ['trace_malloc', false],
  ['top_file', false], ['trace_signal', false], ['trace_bind', true], ['snapshot_process', false],
];

const tmp = mkdtempSync(join(tmpdir(), 'ig-kill-hostile-'));
const store = join(tmp, 'store');
const netns = `ig-kill-${process.pid}`;
const marker = `IG_KILL_TEST_MARK=${randomBytes(8).toString('hex')}`;
let base: KernelBaseline;
const names = { progs: new Set<string>(), maps: new Set<string>() };
let qdiscsBefore = '';

function qdiscs(): string {
  return execFileSync('ip', ['netns', 'exec', netns, 'tc', 'qdisc', 'show'], { encoding: 'utf8' });
}

before(async () => {
  // a private store with just these gadgets, so the store lock checked below is this test's own
  const archive = join(tmp, 'gadgets.tar');
  await exportImages(GADGETS.map(([g]) => g), archive);
  await importImages(archive, { store });
  for (const [g] of GADGETS) {
    const n = objectNames((await getGadgetImage(g, { store })).ebpf!);
    n.progs.forEach((x) => names.progs.add(x));
    n.maps.forEach((x) => names.maps.add(x));
  }
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
  qdiscsBefore = qdiscs();
  base = kernelBaseline();
});

after(() => {
  execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  rmSync(tmp, { recursive: true, force: true });
});

interface Outcome { gadget: string; signal: NodeJS.Signals; delay: number; pid: number; code: number | null; exitSignal: NodeJS.Signals | null; stderr: string; groupLeft: boolean }

async function startAndKill(i: number): Promise<Outcome> {
  const [gadget, inNetns] = GADGETS[i % GADGETS.length];
  const signal = (['SIGINT', 'SIGTERM', 'SIGKILL'] as const)[Math.floor(Math.random() * 3)];
  const delay = Math.floor(Math.random() * MAX_DELAY_MS);
  const argv = [...(inNetns ? ['ip', 'netns', 'exec', netns] : []), process.execPath, IG_MAIN, 'run', gadget, '--host', '-o', 'json'];
  // detached: its own process group, so anything it started and left behind is found by group id
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IG_OCI_STORE: store, [marker.split('=')[0]]: marker.split('=')[1] } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  await new Promise((r) => setTimeout(r, delay));
  // `ip netns exec` execs ig, so the pid is ig's either way
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 20000);
  const [code, exitSignal] = await exited;
  clearTimeout(t);
  let groupLeft = groupAlive(child.pid!);
  for (let w = 0; w < 40 && groupLeft; w++) {
    await new Promise((r) => setTimeout(r, 50));
    groupLeft = groupAlive(child.pid!);
  }
  return { gadget, signal, delay, pid: child.pid!, code, exitSignal, stderr, groupLeft };
}

test(`${RUNS} random kills of official gadgets leave nothing behind`, { timeout: 180_000 }, async () => {
  const outcomes: Outcome[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < RUNS) outcomes.push(await startAndKill(next++));
  }));
  assert.equal(outcomes.length, RUNS);
  const problems: string[] = [];
  for (const o of outcomes) {
    const what = `${o.gadget} ${o.signal} after ${o.delay} ms (pid ${o.pid})`;
    if (o.groupLeft) problems.push(`${what}: processes of its group survive`);
    // a graceful stop is a clean exit, never a crash with a stack trace
    if (o.signal !== 'SIGKILL' && o.code !== null && o.code !== 0 && o.code !== 130 && o.code !== 143) problems.push(`${what}: exit ${o.code}: ${o.stderr.trim().split('\n')[0]}`);
    if (/\n\s+at /.test(o.stderr)) problems.push(`${what}: stack trace on stderr`);
  }
  const pids = new Set(outcomes.map((o) => o.pid));
  problems.push(...processesWithMarker(marker).map((p) => `process ${p} started by a killed ig survives`));
  problems.push(...probeEntriesOf(pids).map((l) => `tracefs probe left: ${l}`));
  problems.push(...(await leakedKernelObjects(base, names)).map((x) => `kernel object left: ${x}`));
  if (qdiscs() !== qdiscsBefore) problems.push(`qdiscs changed in ${netns}: ${qdiscs()}`);
  try {
    execFileSync('flock', ['-w', '5', join(store, 'index.json.lock'), 'true']);
  } catch {
    problems.push('the store lock is still held');
  }
  const bySignal = (s: string) => outcomes.filter((o) => o.signal === s).length;
  assert.ok(bySignal('SIGINT') && bySignal('SIGTERM') && bySignal('SIGKILL'), 'every signal was used');
  assert.ok(outcomes.some((o) => o.delay < 800), 'some kills hit start-up and load');
  assert.deepEqual(problems, []);
});

test('the leak check sees a program kept alive by a pin after its ig was killed', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [IG_MAIN, 'run', 'trace_open', '--host', '-o', 'json'], { stdio: 'ignore', env: { ...process.env, IG_OCI_STORE: store } });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // wait until it holds a program of trace_open, then pin that program behind its back (ig's own helper programs,
  // such as the exe tracker, are not the gadget's: the leak check looks for the gadget's names)
  let progId = 0;
  for (let i = 0; i < 300 && !progId; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const fdinfo = execFileSync('sh', ['-c', `cat /proc/${child.pid}/fdinfo/* 2>/dev/null | grep ^prog_id: || true`], { encoding: 'utf8' });
    for (const m of fdinfo.matchAll(/prog_id:\s*(\d+)/g)) {
      const shown = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', m[1]!, '--json'], { encoding: 'utf8' })) as { name?: string };
      if (shown.name && names.progs.has(shown.name)) { progId = Number(m[1]); break; }
    }
  }
  assert.ok(progId, 'trace_open never loaded a program');
  const pin = `/sys/fs/bpf/ig-kill-selftest-${process.pid}`;
  execFileSync('bpftool', ['prog', 'pin', 'id', String(progId), pin]);
  try {
    child.kill('SIGKILL');
    await exited;
    const leaked = await leakedKernelObjects(base, names, 300);
    assert.ok(leaked.some((x) => x.startsWith(`prog ${progId} `)), `the pinned program was not reported: ${leaked.join(', ')}`);
  } finally {
    rmSync(pin, { force: true });
  }
  assert.deepEqual((await leakedKernelObjects(base, names)).filter((x) => x.startsWith(`prog ${progId} `)), []);
});
