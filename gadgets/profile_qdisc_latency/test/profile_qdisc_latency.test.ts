// profile_qdisc_latency: two network namespaces made by the test, joined by a veth pair whose sending end
// has a token bucket qdisc (tbf, 1 Mbit/s). A burst of UDP datagrams waits in that queue for milliseconds to
// a second; when ig stops it prints the histogram of enqueue → dequeue times (filtered by --ifindex).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { run, TestNetns } from '../../../test/harness/activity.js';
import { ProgTap, waitOwnProgram, waitUnloaded } from '../../../test/harness/owned-progs.js';

interface Hist { unit?: string; intervals: { count: number; start: number; end: number }[] }

let a: TestNetns;
let b: TestNetns;
let ifindex = 0;
const veth = `igq${process.pid % 100000}`;

before(() => {
  a = new TestNetns('qdisc-a');
  b = new TestNetns('qdisc-b');
  run('ip', ['link', 'add', `${veth}a`, 'netns', a.name, 'type', 'veth', 'peer', 'name', `${veth}b`, 'netns', b.name]);
  a.exec('ip', ['addr', 'add', '10.213.7.1/24', 'dev', `${veth}a`]);
  b.exec('ip', ['addr', 'add', '10.213.7.2/24', 'dev', `${veth}b`]);
  a.exec('ip', ['link', 'set', `${veth}a`, 'up']);
  b.exec('ip', ['link', 'set', `${veth}b`, 'up']);
  // 1 Mbit/s: 100 datagrams of 1000 bytes need ~0.8 s, so most of them wait in the queue
  a.exec('tc', ['qdisc', 'add', 'dev', `${veth}a`, 'root', 'tbf', 'rate', '1mbit', 'burst', '4kb', 'latency', '2s']);
  ifindex = Number(/^(\d+):/.exec(a.exec('ip', ['-o', 'link', 'show', `${veth}a`]))![1]);
});
const tap = new ProgTap();
after(() => { a?.del(); b?.del(); tap.cleanup(); });

function burst(): void {
  const js = `const s=require('dgram').createSocket('udp4');let n=100;const go=()=>{if(n--<=0)return s.close();s.send(Buffer.alloc(1000),9,'10.213.7.2',go)};go();`;
  const r = spawnSync('nsenter', [`--net=${a.path}`, process.execPath, '-e', js], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
}

async function profile(extra: string[]): Promise<string> {
  const ig = new IgProcess(['run', 'profile_qdisc_latency', ...extra], tap.env);
  await waitOwnProgram(ig.pid, 'ig_qdisc_deq');
  burst();
  await new Promise((r) => setTimeout(r, 1500)); // the queue drains at 1 Mbit/s
  const r = await ig.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('columns: the histogram of queueing latency, printed when ig stops', async () => {
  const out = await profile(['--ifindex', String(ifindex)]);
  const lines = out.split('\n');
  assert.equal(lines[0], 'latency', out);
  assert.equal(lines[1], '        µs               : count    distribution');
  const rows = lines.filter((l) => l.includes('->'));
  for (const r of rows) assert.match(r, /^\s*\d+ -> \d+\s* : \d+\s* \|[* ]{40}\|$/);
  const counts = rows.map((r) => ({ start: Number(/^\s*(\d+)/.exec(r)![1]), n: Number(/: (\d+)/.exec(r)![1]) }));
  const total = counts.reduce((s, c) => s + c.n, 0);
  assert.ok(total >= 50 && total <= 120, `the burst's datagrams (and a few neighbour packets): ${total}\n${out}`);
  assert.ok(counts.some((c) => c.start >= 65536 && c.n > 0), `datagrams late in the burst waited > 65 ms\n${out}`);
});

test('JSON and --ms: structured histogram in milliseconds; another interface index sees nothing', async () => {
  const out = await profile(['--ifindex', String(ifindex), '--ms', '-o', 'json']);
  const docs = out.trim().split('\n').map((l) => JSON.parse(l) as { latency: Hist });
  assert.equal(docs.length, 1, out);
  const h = docs[0]!.latency;
  assert.ok(h.intervals.reduce((s, i) => s + i.count, 0) >= 50, out);
  assert.ok(h.intervals.some((i) => i.start >= 64 && i.count > 0), `waits of more than 64 ms: ${out}`);
  const none = await profile(['--ifindex', String(ifindex + 1000), '-o', 'json']);
  const total = none.trim() ? none.trim().split('\n').map((l) => JSON.parse(l) as { latency: Hist })
    .reduce((s, d) => s + d.latency.intervals.reduce((t, i) => t + i.count, 0), 0) : 0;
  assert.equal(total, 0, none);
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
