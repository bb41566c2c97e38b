// profile_tcprtt: a loopback TCP echo made by the test; when ig stops it prints the RTT histogram of the
// connection (filtered by port) as upstream does, or as structured JSON; --laddr-hist keys it by address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { IgProcess } from '../../../test/harness/ig.js';
import { LineChild } from '../../../test/harness/activity.js';
import { ProgTap, waitOwnProgram, waitUnloaded } from '../../../test/harness/owned-progs.js';

interface Hist { unit?: string; intervals: { count: number; start: number; end: number }[] }

// Echo on 127.0.0.1; on "go <n>" the client sends n messages of 100 bytes, one per 5 ms (each echoed back).
const ECHO = `
const net = require('net');
const readline = require('readline');
const srv = net.createServer((s) => s.on('data', (d) => s.write(d)));
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => console.log('port ' + srv.address().port));
  c.on('data', () => {});
  readline.createInterface({ input: process.stdin }).on('line', (l) => {
    let n = Number(l.split(' ')[1]);
    const t = setInterval(() => { c.write(Buffer.alloc(100, 1)); if (--n <= 0) { clearInterval(t); setTimeout(() => console.log('done'), 100); } }, 5);
  });
});
`;
const echo = new LineChild(process.execPath, ['-e', ECHO]);
const tap = new ProgTap();
after(() => { echo.kill(); tap.cleanup(); });

async function profile(extra: string[]): Promise<string> {
  const port = Number((await echo.waitLine(/^port /)).split(' ')[1]);
  const ig = new IgProcess(['run', 'profile_tcprtt', '--dport', String(port), ...extra], tap.env);
  await waitOwnProgram(ig.pid, 'ig_tcprtt');
  echo.lines.length = 0;
  echo.lines.push(`port ${port}`);
  echo.send('go 50');
  await echo.waitLine(/^done$/);
  const r = await ig.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('columns: one histogram of the connection\'s smoothed RTT, printed when ig stops', async () => {
  const out = await profile([]);
  const lines = out.split('\n');
  assert.equal(lines[0], 'latency', out);
  assert.equal(lines[1], '        µs               : count    distribution');
  const rows = lines.filter((l) => l.includes('->'));
  for (const r of rows) assert.match(r, /^\s*\d+ -> \d+\s* : \d+\s* \|[* ]{40}\|$/);
  const total = rows.reduce((a, r) => a + Number(/: (\d+)/.exec(r)![1]), 0);
  assert.ok(total >= 10, `samples from the echoed segments (--dport): ${total}\n${out}`);
});

test('JSON and --laddr-hist: structured histogram keyed by the local address', async () => {
  const out = await profile(['--laddr-hist', '-o', 'json']);
  const docs = out.trim().split('\n').map((l) => JSON.parse(l) as { addr: string; latency: Hist });
  assert.equal(docs.length, 1, out);
  assert.equal(docs[0]!.addr, '127.0.0.1');
  const h = docs[0]!.latency;
  assert.equal(h.unit, 'µs');
  assert.ok(h.intervals.reduce((a, i) => a + i.count, 0) >= 10, out);
  for (const [i, iv] of h.intervals.entries()) assert.deepEqual([iv.start, iv.end], [i === 0 ? 0 : 2 ** i, 2 ** (i + 1) - 1]);
});

test('--laddr-hist in columns labels the histogram', async () => {
  const out = await profile(['--laddr-hist']);
  assert.match(out, /^latency \[addr=127\.0\.0\.1\]$/m);
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
