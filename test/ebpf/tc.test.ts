// TC programs in upstream's section spellings load as SCHED_CLS and attach to --iface: a UDP datagram of a
// known size on loopback is seen on egress and on ingress.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';

const gadgets = new TestGadgets();
const env = gadgets.env;

before(() => {
  gadgets.build('tc', 'tc.bpf.c', 'name: tc\ndescription: TC section test gadget\n');
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
