// Scale and faults, simulated: five "nodes" = five real `ig daemon`s, each in a network namespace this test creates,
// registered as gadget pods (on five Node objects) in the FAKE Kubernetes API server, whose pod port-forward leads
// to each daemon's socket. kubectl-gadget reaches them only through the API server, as it would in a cluster.
//   - `run trace_exec` merges all five streams, every node's events with its k8s.node;
//   - a node killed mid-run is reported once, and the others go on;
//   - `attach` to a headless instance picks a node up again when its daemon is back (and resumes the instance).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, repoRoot } from '../harness/ig.js';
import { startFakeKubeApiServer, objects, type FakeKubeApiServer, type KubeObject } from '../fakes/kube-apiserver/index.js';

const KG_MAIN = join(repoRoot(), 'dist', 'src', 'cli', 'kubectl-gadget', 'main.js');
const N = 5;
const tag = `h15deploy${process.pid % 100000}`;
const nodes = Array.from({ length: N }, (_, k) => `node-${k + 1}`);
const netns = (k: number) => `${tag}-n${k + 1}`;
const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
const sock = (k: number) => join(dir, `node${k + 1}.sock`);
// A program of our own name, so that the gadget's --comm filter sees only our execs among the machine's.
const MARK = join(dir, 'h15dmark');
const daemons: (IgProcess | undefined)[] = new Array(N);
let fake: FakeKubeApiServer;

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

async function startDaemon(k: number): Promise<void> {
  rmSync(sock(k), { force: true });
  const p = new IgProcess(['daemon', '-H', `unix://${sock(k)}`, '--instances-dir', join(dir, `instances${k + 1}`)],
    { NODE_NAME: nodes[k]! }, { prefix: ['ip', 'netns', 'exec', netns(k)] });
  daemons[k] = p;
  const deadline = Date.now() + 60000;
  while (!(/serving on/.test(p.stderr) && existsSync(sock(k)))) {
    if (p.child.exitCode !== null) throw new Error(`daemon of ${nodes[k]} exited: ${p.stderr}`);
    if (Date.now() > deadline) throw new Error(`daemon of ${nodes[k]} did not start: ${p.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function gadgetPod(k: number): KubeObject {
  const p = objects.pod({ name: `gadget-${tag}-${k + 1}`, namespace: 'gadget', nodeName: nodes[k]!, labels: { 'k8s-app': 'gadget' }, containers: [{ name: 'gadget', image: 'localhost/ig:test' }] });
  (p as unknown as { status: { conditions?: unknown[] } }).status.conditions = [{ type: 'Ready', status: 'True' }];
  return p;
}

function kg(args: string[]): IgProcess {
  return new IgProcess(['--kubeconfig', fake.kubeconfigPath, ...args], undefined, { main: KG_MAIN });
}

async function kgDone(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return kg(args).wait();
}

interface ExecEvent { args?: string; proc?: { comm?: string }; k8s?: { node?: string } }

/**
 * The nodes whose stream carried marker `m` (each node sees every exec of the machine: one kernel). The marker is
 * the exec's last argument, compared whole: the program's path is in args too, and the random part of its temp dir
 * can hold "m2" (a CI run saw node-3's m1 events counted as m2).
 */
function nodesWith(p: IgProcess, m: string): string[] {
  return p.events<ExecEvent>().filter((e) => (e.args ?? '').split(/\s/).at(-1) === m).map((e) => e.k8s?.node ?? '?').sort();
}

/** Which markers each node's stream carried so far, for a timeout's message. */
function markersByNode(p: IgProcess): Record<string, string[]> {
  const by: Record<string, Set<string>> = {};
  for (const e of p.events<ExecEvent>()) (by[e.k8s?.node ?? '?'] ??= new Set()).add((e.args ?? '').split(/\s/).at(-1) ?? '');
  return Object.fromEntries(Object.entries(by).map(([n, ms]) => [n, [...ms].sort()]));
}

async function until(what: string, cond: () => boolean, poke: () => void, p: IgProcess, ms = 45000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${p.events().length}, by node: ${JSON.stringify(markersByNode(p))}; stderr: ${p.stderr.trim()}; stdout tail: ${p.stdout.slice(-600)}`);
    poke();
    await new Promise((r) => setTimeout(r, 300));
  }
}

const poke = (m: string) => () => { spawnSync(MARK, [m]); };

before(async () => {
  copyFileSync('/bin/true', MARK);
  for (let k = 0; k < N; k++) {
    sh('ip', ['netns', 'add', netns(k)]);
    sh('ip', ['-n', netns(k), 'link', 'set', 'lo', 'up']);
  }
  await Promise.all(nodes.map((_, k) => startDaemon(k)));
  fake = await startFakeKubeApiServer({
    objects: [...nodes.map((n) => objects.node(n)), objects.namespace('gadget'), ...nodes.map((_, k) => gadgetPod(k))],
  });
  for (let k = 0; k < N; k++) await fake.setPortForward('gadget', `gadget-${tag}-${k + 1}`, { path: sock(k) }, 8080);
});

after(async () => {
  await Promise.all(daemons.map((d) => d?.stop('SIGKILL')));
  await fake?.stop();
  for (let k = 0; k < N; k++) spawnSync('ip', ['netns', 'del', netns(k)]);
  rmSync(dir, { recursive: true, force: true });
});

test('version and list reach all five daemons through the API server\'s port-forward', async () => {
  const v = await kgDone(['version']);
  assert.equal(v.code, 0, v.stderr);
  for (const n of nodes) assert.match(v.stdout, new RegExp(`^Server version \\(${n}\\): v\\d`, 'm'));
  const l = await kgDone(['list', '-o', 'json']);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(JSON.parse(l.stdout), []);
  // --node picks nodes; a node without a gadget pod is named.
  const one = await kgDone(['version', '--node', 'node-2']);
  assert.equal(one.stdout.match(/^Server version/gm)?.length, 1, one.stdout);
  const bad = await kgDone(['list', '--node', 'node-9']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr.trim(), /^Error: node "node-9" does not have a gadget pod in namespace gadget$/);
});

test('run trace_exec merges the five nodes; a node killed mid-run is reported once and the rest go on', async () => {
  const p = kg(['run', 'trace_exec', '--host', '--filter', 'proc.comm==h15dmark', '-o', 'json']);
  try {
    await until('the marker from all five nodes', () => new Set(nodesWith(p, 'm1')).size >= N, poke('m1'), p);
    // Every node's stream, each once per exec, labelled with its node.
    assert.deepEqual([...new Set(nodesWith(p, 'm1'))], nodes);
    await daemons[2]!.stop('SIGKILL');
    await until('the error line of node-3', () => /node node-3/.test(p.stderr), () => undefined, p, 30000);
    await until('the marker from the four others', () => new Set(nodesWith(p, 'm2')).size >= N - 1, poke('m2'), p);
    await until('a later marker too', () => new Set(nodesWith(p, 'm3')).size >= N - 1, poke('m3'), p);
    assert.deepEqual([...new Set(nodesWith(p, 'm2'))], nodes.filter((n) => n !== 'node-3'));
    assert.deepEqual([...new Set(nodesWith(p, 'm3'))], nodes.filter((n) => n !== 'node-3'));
    const errs = p.stderr.split('\n').filter((l) => /node-3/.test(l));
    assert.equal(errs.length, 1, p.stderr);
    assert.match(errs[0]!, /^ERROR: node node-3: /);
  } finally {
    const r = await p.stop('SIGINT');
    // node-3 comes back whatever happened above, so that the tests after this one start with five nodes.
    if (daemons[2]!.child.exitCode !== null || daemons[2]!.child.signalCode !== null) await startDaemon(2);
    assert.equal(r.code, 0, r.stderr);
  }
});

test('an array gadget: one round of all five nodes, sorted and cut to --max-entries over the merged total', async () => {
  // Processes of our own that live through the whole snapshot, selected in the kernel by their name: the five nodes'
  // snapshots (taken one after another) then hold the same rows, whatever else starts and ends on a busy machine.
  const SNAP = join(dir, 'h15dsnap');
  copyFileSync('/bin/sleep', SNAP);
  const mine = Array.from({ length: 4 }, () => spawn(SNAP, ['600'], { stdio: 'ignore' }));
  try {
    // Each has exec'd (its comm is no longer node's) before the snapshot.
    const named = (pid: number) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'h15dsnap'; } catch { return false; } }; // not yet in /proc: not yet
    for (const deadline = Date.now() + 10000; !mine.every((k) => named(k.pid!));) {
      if (Date.now() > deadline) throw new Error('our h15dsnap processes did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await kgDone(['run', 'snapshot_process', '--host', '--comm', 'h15dsnap', '--sort', '-pid', '--max-entries', '3', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rounds = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { pid: number; comm: string; k8s: { node: string } }[]);
    assert.equal(rounds.length, 1, r.stdout.slice(0, 400));
    const rows = rounds[0]!;
    // Per node, --max-entries 3 would give 15 rows (each node sees our 4); over the cluster: 3. Every node sees the
    // same processes (one kernel), so the 3 largest pids of the union are our largest pid as three nodes report it.
    const largest = Math.max(...mine.map((k) => k.pid!));
    assert.equal(rows.length, 3, JSON.stringify(rows));
    assert.deepEqual(rows.map((x) => [x.pid, x.comm]), [[largest, 'h15dsnap'], [largest, 'h15dsnap'], [largest, 'h15dsnap']]);
    assert.equal(new Set(rows.map((x) => x.k8s.node)).size, 3, JSON.stringify(rows.map((x) => [x.pid, x.k8s.node])));
    for (const x of rows) assert.ok(nodes.includes(x.k8s.node));
  } finally {
    for (const k of mine) k.kill('SIGKILL');
  }
});

test('attach: a node whose daemon comes back is attached again (the instance resumed there)', async () => {
  const c = await kgDone(['run', 'trace_exec', '--host', '--filter', 'proc.comm==h15dmark', '--detach', '--name', `${tag}-sim`]);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  assert.match(id, /^[0-9a-f]{32}$/);
  const l = await kgDone(['list', '-o', 'json']);
  const list = JSON.parse(l.stdout) as { id: string; name: string; nodes: { node: string; status: string }[]; status: string }[];
  assert.equal(list.length, 1, l.stdout);
  assert.equal(list[0]!.id, id);
  assert.deepEqual(list[0]!.nodes.map((n) => n.node).sort(), nodes);
  assert.equal(list[0]!.status, 'Running');
  const a = kg(['attach', `${tag}-sim`, '-o', 'json']);
  try {
    await until('the marker from all five through attach', () => new Set(nodesWith(a, 'a1')).size >= N, poke('a1'), a);
    await daemons[2]!.stop('SIGKILL');
    await until('the marker from the four others', () => new Set(nodesWith(a, 'a2')).size >= N - 1, poke('a2'), a);
    assert.ok(!nodesWith(a, 'a2').includes('node-3'));
    assert.equal(a.stderr.split('\n').filter((x) => /^ERROR: node node-3/.test(x)).length, 1, a.stderr);
    await startDaemon(2);
    await until('node-3 attached again', () => /node node-3: attached again/.test(a.stderr), () => undefined, a, 45000);
    await until('the marker from all five again', () => new Set(nodesWith(a, 'a3')).size >= N, poke('a3'), a);
    assert.deepEqual([...new Set(nodesWith(a, 'a3'))], nodes);
  } finally {
    await a.stop('SIGINT');
  }
  const d = await kgDone(['delete', `${tag}-sim`]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout.trim(), id);
  assert.deepEqual(JSON.parse((await kgDone(['list', '-o', 'json'])).stdout), []);
});

test('faults on the API side: port-forward forbidden, a pod with nothing behind it — each one line per node', async () => {
  await fake.forbid({ verb: 'create', resource: 'pods/portforward', namespace: 'gadget' });
  try {
    const r = await kgDone(['version', '--node', 'node-1', '--connection-timeout', '5']);
    assert.match(r.stdout, /^Server version \(node-1\): not available \(port-forward to pod gadget\/gadget-\S+: forbidden/m);
  } finally {
    await fake.allowAll();
  }
  await fake.setPortForward('gadget', `gadget-${tag}-2`, null, 8080);
  try {
    const r = await kgDone(['list', '--connection-timeout', '5']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^WARN: node node-2: port-forward to gadget-\S+:8080: error forwarding port 8080/);
  } finally {
    await fake.setPortForward('gadget', `gadget-${tag}-2`, { path: sock(1) }, 8080);
  }
});

