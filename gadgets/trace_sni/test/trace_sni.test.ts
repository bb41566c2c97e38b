// trace_sni: a TLS client (child process) sends a ClientHello with a server name to a TLS server on loopback
// (in this process, with a throwaway self-signed certificate); the socket filter reports the name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf } from '../../../test/harness/activity.js';

interface Endpoint { addr: string; port: number; proto: string; version: number }
interface SniEvent { timestamp: string; netns_id: number; proc: { comm: string; pid: number }; src: Endpoint; dst: Endpoint; name: string }

let dir = '';
let server: tls.Server;
let port = 0;
let handshakes = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-sni-'));
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=ig-sni.test', '-days', '1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  server = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (s) => {
    handshakes++;
    s.on('error', () => undefined);
    s.end();
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  port = (server.address() as AddressInfo).port;
});

after(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One TLS handshake from a child process with `servername`. */
function hello(servername: string, clients: Set<number>): void {
  const c = spawn(process.execPath, ['-e', `
    const s = require('tls').connect({ host: '127.0.0.1', port: ${port}, servername: ${JSON.stringify(servername)}, rejectUnauthorized: false }, () => {
      console.log(s.localPort); s.end();
    });
    s.on('error', () => {});`], { stdio: ['ignore', 'ignore', 'inherit'] });
  clients.add(c.pid!);
}

test('the server name of a TLS ClientHello, with endpoints and netns', async () => {
  const ig = new IgProcess(['run', 'trace_sni', '--host', '-o', 'json']);
  const name = `ig-${process.pid}.sni.example`;
  const clients = new Set<number>();
  try {
    const ev = await ig.waitFor<SniEvent>((e) => e.name === name, () => hello(name, clients), { everyMs: 500 });
    await ig.stop();
    assert.ok(handshakes > 0, 'the TLS handshake completed');
    assert.equal(ev.dst.port, port);
    assert.deepEqual({ addr: ev.dst.addr, proto: ev.dst.proto, version: ev.dst.version }, { addr: '127.0.0.1', proto: 'TCP', version: 4 });
    assert.deepEqual({ addr: ev.src.addr, proto: ev.src.proto }, { addr: '127.0.0.1', proto: 'TCP' });
    assert.ok(ev.src.port > 0 && ev.src.port !== port);
    assert.equal(ev.netns_id, statSync('/proc/self/ns/net').ino);
    // On loopback the packet socket sees the ClientHello leave and arrive: the arriving copy belongs to the
    // listening socket of this process (socket enricher).
    const mine = ig.events<SniEvent>().filter((e) => e.name === name && e.src.port === ev.src.port);
    assert.ok(mine.some((e) => e.proc.pid === process.pid), JSON.stringify(mine.map((e) => e.proc)));
    // Only ClientHellos are reported: nothing without a name.
    assert.ok(ig.events<SniEvent>().every((e) => e.name !== ''));
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID NAME', async () => {
  const ig = new IgProcess(['run', 'trace_sni', '--host']);
  const name = `cols-${process.pid}.sni.example`;
  const { header, row } = await columnsOf(ig, new RegExp(name.replace(/\./g, '\\.')), () => hello(name, new Set()));
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+NAME/);
  assert.match(row, new RegExp(`${name.replace(/\./g, '\\.')}$`));
});
