// TC programs in upstream's section spellings load as SCHED_CLS and attach to --iface: a UDP datagram of a
// known size on loopback is seen on egress and on ingress.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { IgProcess, runIgSync, repoRoot } from '../harness/ig.js';

const store = mkdtempSync(join(tmpdir(), 'ig-store-'));
const env = { IG_OCI_STORE: store };

before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-tc-'));
  copyFileSync(join(repoRoot(), 'test', 'ebpf', 'testdata', 'tc.bpf.c'), join(dir, 'program.bpf.c'));
  writeFileSync(join(dir, 'gadget.yaml'), 'name: tc\ndescription: TC section test gadget\n');
  const r = runIgSync(['image', 'build', dir, '-t', 'tc'], { env });
  assert.equal(r.code, 0, r.stderr);
});

test('classifier/ingress/<name> and tc/egress programs see a datagram on lo', async () => {
  const ig = new IgProcess(['run', 'tc', '--iface', 'lo', '-o', 'json'], env);
  // 1234 bytes of UDP payload: 1234 + 8 (UDP) + 20 (IPv4) + 14 (Ethernet) = 1276 bytes on lo
  const send = () => { spawn('python3', ['-c', "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x'*1234, ('127.0.0.1', 9))"], { stdio: 'ignore' }); };
  try {
    await ig.waitFor<{ len: number; ingress: number }>((e) => e.len === 1276 && e.ingress === 1, send, { timeoutMs: 60000, everyMs: 1000 });
    await ig.waitFor<{ len: number; ingress: number }>((e) => e.len === 1276 && e.ingress === 0, send, { timeoutMs: 30000, everyMs: 1000 });
  } finally {
    await ig.stop();
  }
});
