// trace_ssl: an OpenSSL test server (openssl s_server -www, with a certificate made by the test) on
// loopback and curl as the client: the clear text curl writes and reads, and the handshake, with durations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { tempDir } from '../../../test/harness/workload.js';

interface SslEvent {
  proc: { comm: string; pid: number };
  operation: string; operation_raw: number; latency_ns_raw: number; len: number; error: string; buf: string;
}

const tmp = tempDir('ig-trace-ssl-');
const port = 40000 + (process.pid % 20000);
let server: ChildProcess;

before(async () => {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', `${tmp.dir}/key.pem`, '-out', `${tmp.dir}/cert.pem`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', `${tmp.dir}/cert.pem`, '-key', `${tmp.dir}/key.pem`, '-www', '-quiet'], { stdio: 'ignore' });
  // wait until it accepts
  for (let i = 0; i < 50; i++) {
    if (spawnSync('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${port}/`]).status === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail('openssl s_server did not start');
});
after(() => { server?.kill('SIGKILL'); tmp.cleanup(); });

function curl(path: string, pids: Set<number>): void {
  const c = spawn('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${port}${path}`], { stdio: 'ignore' });
  pids.add(c.pid!);
}

test('SSL_write and SSL_read carry the clear text; SSL_do_handshake is timed', async () => {
  const ig = new IgProcess(['run', 'trace_ssl', '--host', '-o', 'json', '--comm', 'curl']);
  const pids = new Set<number>();
  const path = `/ig-ssl-${process.pid}`;
  try {
    const w = await ig.waitFor<SslEvent>((e) => pids.has(e.proc.pid) && e.operation === 'libssl_SSL_write', () => curl(path, pids));
    const mine = () => ig.events<SslEvent>().filter((e) => e.proc.pid === w.proc.pid);
    const deadline = Date.now() + 30000; // the response comes when the (loaded) server gets to it
    while (!mine().some((e) => e.operation === 'libssl_SSL_read') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(w.buf.startsWith(`GET ${path} HTTP/1.1\r\n`), JSON.stringify(w.buf));
    assert.equal(w.len, Buffer.byteLength(w.buf));
    assert.equal(w.error, '');
    assert.ok(w.latency_ns_raw > 0);
    const r = mine().find((e) => e.operation === 'libssl_SSL_read')!;
    assert.ok(r, JSON.stringify(mine()));
    assert.match(r.buf, /^HTTP\/1\.0 200 ok\r\n/);
    const hs = mine().filter((e) => e.operation === 'libssl_SSL_do_handshake');
    assert.ok(hs.length >= 1 && hs.every((e) => e.buf === '' && e.latency_ns_raw > 0), JSON.stringify(hs));
    assert.ok(hs.some((e) => e.error === ''), 'the last handshake call succeeds');
  } finally {
    await ig.stop();
  }
});

test('--record-data=false: the calls without their data', async () => {
  const ig = new IgProcess(['run', 'trace_ssl', '--host', '-o', 'json', '--comm', 'curl', '--record-data=false']);
  const pids = new Set<number>();
  try {
    const w = await ig.waitFor<SslEvent>((e) => pids.has(e.proc.pid) && e.operation === 'libssl_SSL_write', () => curl('/x', pids));
    assert.equal(w.buf, '');
    assert.ok(w.len > 0);
  } finally {
    await ig.stop();
  }
});
