// top_tcp: a loopback TCP echo (server and client in a child process) shows up per connection with the bytes sent
// and received in each interval; piped output is one JSON array or one table per interval, a terminal redraws.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runIgSync } from '../../../test/harness/ig.js';
import { LineChild } from '../../../test/harness/activity.js';
import { runIgInPty } from '../../../test/harness/workload.js';

interface Ep { addr: string; port: number; version: number; proto: string }
interface TcpStat { pid: number; tid: number; comm: string; src: Ep; dst: Ep; sent_raw: number; received_raw: number; sent: string; received: string; mntns_id: number }

// Echo server and client on 127.0.0.1: every 20 ms the client sends 500 bytes and the server sends them back.
const ECHO = `
const net = require('net');
const srv = net.createServer((s) => s.on('data', (d) => s.write(d)));
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => {
    console.log('ports ' + c.localPort + ' ' + srv.address().port);
    setInterval(() => c.write(Buffer.alloc(500, 7)), 20);
  });
  c.on('data', () => {});
});
`;
const echo = new LineChild(process.execPath, ['-e', ECHO]);
after(() => echo.kill());

async function ports(): Promise<{ client: number; server: number }> {
  const [, c, s] = (await echo.waitLine(/^ports /)).split(' ');
  return { client: Number(c), server: Number(s) };
}

const base = () => ['run', 'top_tcp', '--host', '--pid', String(echo.pid), '--map-fetch-interval', '400ms', '--map-fetch-count', '3'];

test('piped -o json: both ends of the connection with endpoints and per-interval bytes', async () => {
  const p = await ports();
  const r = runIgSync([...base(), '-o', 'json'], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const batches = r.stdout.split('\n').filter((l) => l.startsWith('[')).map((l) => JSON.parse(l) as TcpStat[]);
  assert.equal(batches.length, 3, r.stdout.slice(0, 300));
  const all = batches.flat();
  assert.ok(all.every((e) => e.pid === echo.pid), '--pid filters in the kernel');
  const client = all.filter((e) => e.src.port === p.client && e.dst.port === p.server);
  const server = all.filter((e) => e.src.port === p.server && e.dst.port === p.client);
  assert.ok(client.length > 0 && server.length > 0, `both ends: ${JSON.stringify(all.slice(0, 4))}`);
  for (const e of [...client, ...server]) {
    assert.equal(e.comm, 'node');
    assert.equal(e.src.addr, '127.0.0.1');
    assert.equal(e.dst.addr, '127.0.0.1');
    assert.equal(e.src.version, 4);
    assert.equal(e.src.proto, 'TCP');
  }
  const sum = (xs: TcpStat[], k: 'sent_raw' | 'received_raw') => xs.reduce((a, e) => a + e[k], 0);
  assert.ok(sum(client, 'sent_raw') > 0 && sum(client, 'sent_raw') % 500 === 0, `client sent ${sum(client, 'sent_raw')}`);
  assert.ok(sum(server, 'received_raw') > 0 && sum(server, 'sent_raw') > 0, 'the server receives and echoes');
  // Per interval (the map is drained): 400 ms at 500 bytes per 20 ms is about 10 kB, far from a running total.
  assert.ok(client.every((e) => e.sent_raw <= 40 * 500), JSON.stringify(client.map((e) => e.sent_raw)));
  // Default sort: -sent_raw,-received_raw (upstream's names; sent/received are their text).
  for (const b of batches) for (let i = 1; i < b.length; i++) assert.ok(b[i - 1]!.sent_raw >= b[i]!.sent_raw);
});

test('piped columns: a table per interval with SRC and DST as addr:port', async () => {
  const p = await ports();
  const r = runIgSync([...base(), '--fields', 'pid,comm,src,dst,sent,received'], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines.filter((l) => /^\s*PID COMM\s+SRC\s+DST\s+SENT\s+RECEIVED$/.test(l)).length, 3, r.stdout);
  assert.ok(lines.some((l) => new RegExp(`^\\s*${echo.pid} node\\s+127\\.0\\.0\\.1:${p.client}\\s+127\\.0\\.0\\.1:${p.server}\\s+[\\d.]+ [kMGT]?B\\s+[\\d.]+ [kMGT]?B$`).test(l)), r.stdout);
});

test('on a terminal the table is redrawn every interval', async () => {
  await ports();
  const r = runIgInPty([...base(), '--fields', 'pid,src,dst,sent'], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.output);
  assert.equal(r.output.split('\x1b[H\x1b[2J').length - 1, 3, JSON.stringify(r.output.slice(0, 200)));
});

test('--family 6 keeps only IPv6 connections (none here)', async () => {
  await ports();
  const r = runIgSync(['run', 'top_tcp', '--host', '--pid', String(echo.pid), '--family', '6', '-o', 'json', '--map-fetch-interval', '300ms', '--map-fetch-count', '2'], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['[]', '[]']);
});
