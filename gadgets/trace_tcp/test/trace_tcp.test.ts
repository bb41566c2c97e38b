// trace_tcp: connect, accept and close on loopback from a child process, with both endpoints; a refused
// connect with its error; and the default columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf } from '../../../test/harness/activity.js';

interface Endpoint { addr: string; port: number; proto: string; version: number }
interface TcpEvent {
  timestamp: string; netns_id: number;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number } };
  src: Endpoint; dst: Endpoint; type: string; error: string; error_raw: number; fd: number; accept_fd: number;
}

// One connection to a local server (both in the child), closed by the client, then a connect to a port
// nobody listens on. Prints what the events must contain.
const SCRIPT = `
const net = require('net');
const srv = net.createServer((s) => { s.on('error', () => {}); s.on('end', () => s.end()); });
srv.listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  const c = net.connect(port, '127.0.0.1', () => {
    const local = c.localPort;
    c.end();
    c.on('close', () => {
      const dead = net.createServer().listen(0, '127.0.0.1', () => {
        const refused = dead.address().port;
        dead.close(() => {
          const r = net.connect(refused, '127.0.0.1');
          r.on('error', (e) => {
            console.log(JSON.stringify({ port, local, refused, code: e.code }));
            srv.close();
          });
        });
      });
    });
  });
});`;

interface Run { pid: number; port: number; local: number; refused: number; code: string }

function connectOnce(runs: Map<number, Run>): void {
  const c = spawn(process.execPath, ['-e', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  c.on('exit', () => { try { runs.set(c.pid!, { pid: c.pid!, ...JSON.parse(out) as Omit<Run, 'pid'> }); } catch { /* incomplete */ } });
}

test('connect, accept, close and a refused connect on loopback', async () => {
  const ig = new IgProcess(['run', 'trace_tcp', '--host', '-o', 'json']);
  const runs = new Map<number, Run>();
  try {
    // Wait until one child's four events have all arrived.
    const complete = (r: Run) => {
      const evs = ig.events<TcpEvent>().filter((e) => e.proc.pid === r.pid);
      return evs.some((e) => e.type === 'connect' && e.dst.port === r.port && e.error === '')
        && evs.some((e) => e.type === 'accept' && e.src.port === r.port)
        && evs.some((e) => e.type === 'close' && e.src.port === r.local)
        && evs.some((e) => e.type === 'connect' && e.dst.port === r.refused && e.error !== '');
    };
    let done: Run | undefined;
    await ig.waitFor<TcpEvent>(() => { done = [...runs.values()].find(complete); return done !== undefined; }, () => connectOnce(runs), { everyMs: 500, timeoutMs: 30000 });
    const r = done!;
    assert.equal(r.code, 'ECONNREFUSED');
    const evs = ig.events<TcpEvent>().filter((e) => e.proc.pid === r.pid);
    const lo = (port: number) => ({ addr: '127.0.0.1', port, proto: 'TCP', version: 4 });
    const pick = (e: TcpEvent) => ({ src: e.src, dst: e.dst });

    const connect = evs.find((e) => e.type === 'connect' && e.dst.port === r.port)!;
    assert.deepEqual(pick(connect), { src: lo(r.local), dst: lo(r.port) });
    assert.equal(connect.proc.comm, 'node');
    assert.equal(connect.proc.creds.uid, process.getuid!());

    const accept = evs.find((e) => e.type === 'accept')!;
    assert.deepEqual(pick(accept), { src: lo(r.port), dst: lo(r.local) });
    assert.equal(accept.error, '');

    const close = evs.find((e) => e.type === 'close' && e.src.port === r.local)!;
    assert.deepEqual(pick(close), { src: lo(r.local), dst: lo(r.port) });

    const refused = evs.find((e) => e.type === 'connect' && e.dst.port === r.refused)!;
    assert.equal(refused.error, 'ECONNREFUSED');
    assert.equal(refused.error_raw, 111);
    assert.equal(refused.dst.addr, '127.0.0.1');
    assert.equal(refused.src.addr, '127.0.0.1');
    assert.ok(refused.src.port > 0, 'the local port of the failed attempt is kept');

    // upstream's fd fields
    assert.ok(connect.fd >= 0 && connect.accept_fd === -1, JSON.stringify(connect));
    assert.ok(accept.fd >= 0 && accept.accept_fd >= 0 && accept.accept_fd !== accept.fd, JSON.stringify(accept));
    assert.ok(refused.fd >= 0 && refused.accept_fd === -1, JSON.stringify(refused));
    assert.equal(close.fd, -1);

    for (const e of [connect, accept, close, refused]) assert.equal(e.netns_id, connect.netns_id);
    assert.ok(connect.netns_id > 0);
  } finally {
    await ig.stop();
  }
});

test('--failure-only keeps only failed connects', async () => {
  const ig = new IgProcess(['run', 'trace_tcp', '--host', '-o', 'json', '--failure-only']);
  const runs = new Map<number, Run>();
  try {
    const ev = await ig.waitFor<TcpEvent>((e) => runs.has(e.proc.pid) && e.error === 'ECONNREFUSED', () => connectOnce(runs), { everyMs: 500 });
    await ig.stop();
    const mine = ig.events<TcpEvent>().filter((e) => e.proc.pid === ev.proc.pid);
    assert.ok(mine.every((e) => e.type === 'connect' && e.error !== ''), JSON.stringify(mine));
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID SRC DST TYPE ERROR', async () => {
  const ig = new IgProcess(['run', 'trace_tcp', '--host']);
  const runs = new Map<number, Run>();
  const { header, row } = await columnsOf(ig, /127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s+connect\s+ECONNREFUSED/, () => connectOnce(runs));
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+SRC\s+DST\s+TYPE\s+ERROR/);
  assert.match(row, /node/);
});
