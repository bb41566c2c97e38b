// ig daemon over TCP: TLS, mutual TLS, plain TCP only with --tls-insecure. Certificates are made here (openssl).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DaemonHarness } from '../harness/daemon.js';
import { runIgSync } from '../harness/ig.js';

const d = new DaemonHarness('daemon-tls');
const f = (n: string) => join(d.dir, n);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, and certificates it signs: `server` for 127.0.0.1/localhost, `client`; `rogue` from another CA. */
function makeCerts(): void {
  for (const ca of ['ca', 'otherca']) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.crt`), '-days', '1', '-subj', `/CN=ig-test-${ca}`]);
  }
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ca, ext] of [['server', 'ca', 'server.ext'], ['client', 'ca', 'client.ext'], ['rogue', 'otherca', 'client.ext']]) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=ig-test-${name}`]);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '1', '-extfile', f(ext!)]);
  }
}

before(() => makeCerts());
after(async () => { await d.cleanup(); });

test('plain TCP is refused without --tls-insecure, with one clear line', async () => {
  const port = await freePort();
  const r = runIgSync(['daemon', '-H', `tcp://127.0.0.1:${port}`, '--instances-dir', f('gadgets')], { timeoutMs: 20000 });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `Error: no TLS configuration for 127.0.0.1:${port}: give --tls-key-file and --tls-cert-file, or --tls-insecure to allow plain TCP`);
});

test('plain TCP with --tls-insecure', async () => {
  const addr = `tcp://127.0.0.1:${await freePort()}`;
  await d.start(['-H', addr, '--tls-insecure'], { address: addr });
  try {
    const r = d.ctl(['version'], { address: addr });
    assert.match(r.stdout, /Server version: v\d/, r.stderr);
  } finally { await d.stop(); }
});

test('TLS: the client checks the daemon\'s certificate', async () => {
  const addr = `tcp://127.0.0.1:${await freePort()}`;
  await d.start(['-H', addr, '--tls-key-file', f('server.key'), '--tls-cert-file', f('server.crt')], { address: addr });
  try {
    const ok = d.ctl(['run', 'trace_open', '--host', '-o', 'json', '--timeout', '1', '--tls-server-ca-file', f('ca.crt')], { address: addr });
    assert.equal(ok.code, 0, ok.stderr);
    // A client that trusts another CA does not talk to this daemon.
    const bad = d.ctl(['image', 'inspect', 'trace_open', '--tls-server-ca-file', f('otherca.crt'), '--connection-timeout', '3'], { address: addr });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr.trim(), /^Error: cannot reach the ig daemon at tcp:\/\/127\.0\.0\.1:\d+: .+$/);
    // Plain text to a TLS port fails too.
    const plain = d.ctl(['image', 'inspect', 'trace_open', '--connection-timeout', '3'], { address: addr });
    assert.equal(plain.code, 1);
  } finally { await d.stop(); }
});

test('mutual TLS: only clients with a certificate of the client CA get in', async () => {
  const addr = `tcp://127.0.0.1:${await freePort()}`;
  await d.start(['-H', addr, '--tls-key-file', f('server.key'), '--tls-cert-file', f('server.crt'), '--tls-ca-file', f('ca.crt')], { address: addr });
  try {
    const tls = (who: string) => ['--tls-server-ca-file', f('ca.crt'), '--tls-key-file', f(`${who}.key`), '--tls-cert-file', f(`${who}.crt`), '--connection-timeout', '5'];
    const ok = d.ctl(['image', 'inspect', 'trace_open', '-o', 'json', ...tls('client')], { address: addr });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(JSON.parse(ok.stdout).imageName as string, /trace_open/);
    const run = d.ctl(['run', 'trace_open', '--host', '-o', 'json', '--timeout', '1', ...tls('client')], { address: addr });
    assert.equal(run.code, 0, run.stderr);
    for (const args of [tls('rogue'), ['--tls-server-ca-file', f('ca.crt'), '--connection-timeout', '3']]) {
      const r = d.ctl(['image', 'inspect', 'trace_open', ...args], { address: addr });
      assert.equal(r.code, 1, `refused: ${args.join(' ')}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^Error: /);
    }
  } finally { await d.stop(); }
});
