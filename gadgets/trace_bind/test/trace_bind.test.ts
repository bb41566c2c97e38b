// trace_bind: bind(2) of TCP and UDP sockets (IPv4 and IPv6) from a child process, socket options,
// failed binds with --ignore-errors=false, and the default columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf, PYTHON } from '../../../test/harness/activity.js';

interface BindEvent {
  timestamp: string;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number; gid: number } };
  addr: { addr: string; port: number; proto: string; version: number };
  error: string; opts: string; opts_raw: number; bound_dev_if: number;
}

// A TCP socket with SO_REUSEADDR and SO_REUSEPORT on 127.0.0.1:<free port>, a UDP socket on [::1]:0 (the
// kernel picks the port), then a second TCP bind on the first one's port without the options (EADDRINUSE).
const SCRIPT = `
import socket, json
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
t.bind(("127.0.0.1", 0)); t.listen()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("::1", 0))
t2 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
err = ""
try:
    t2.bind(("127.0.0.1", t.getsockname()[1]))
except OSError as e:
    err = e.errno
print(json.dumps({"tcp": t.getsockname()[1], "udp": u.getsockname()[1], "err": err}))
`;

interface Run { pid: number; tcp: number; udp: number; err: number }

function bindOnce(runs: Map<number, Run>): void {
  const c = spawn(PYTHON, ['-c', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  c.on('exit', () => { try { runs.set(c.pid!, { pid: c.pid!, ...JSON.parse(out) as Omit<Run, 'pid'> }); } catch { /* incomplete */ } });
}

test('binds with address, port, protocol and options; failures with --ignore-errors=false', async () => {
  const ig = new IgProcess(['run', 'trace_bind', '--host', '-o', 'json', '--ignore-errors=false', '--comm', 'python3']);
  const runs = new Map<number, Run>();
  try {
    let done: Run | undefined;
    const complete = (r: Run) => ig.events<BindEvent>().filter((e) => e.proc.pid === r.pid).length >= 3;
    await ig.waitFor(() => { done = [...runs.values()].find(complete); return done !== undefined; }, () => bindOnce(runs), { everyMs: 500 });
    const r = done!;
    assert.equal(r.err, 98); // EADDRINUSE
    const evs = ig.events<BindEvent>().filter((e) => e.proc.pid === r.pid);
    assert.equal(evs.length, 3, JSON.stringify(evs));
    const [tcp, udp, fail] = evs as [BindEvent, BindEvent, BindEvent];

    assert.deepEqual(tcp.addr, { addr: '127.0.0.1', port: r.tcp, proto: 'TCP', version: 4 });
    assert.equal(tcp.error, '');
    assert.equal(tcp.opts, 'REUSEADDRESS|REUSEPORT');
    assert.equal(tcp.bound_dev_if, 0);
    assert.equal(tcp.proc.comm, 'python3');
    assert.equal(tcp.proc.creds.uid, process.getuid!());

    // Port 0: the event shows the port the kernel chose.
    assert.deepEqual(udp.addr, { addr: '::1', port: r.udp, proto: 'UDP', version: 6 });
    assert.equal(udp.opts, '');

    assert.equal(fail.error, 'EADDRINUSE');
    assert.equal(fail.addr.port, r.tcp);
    assert.equal(fail.addr.addr, '127.0.0.1');
  } finally {
    await ig.stop();
  }
});

test('failed binds are hidden by default', async () => {
  const ig = new IgProcess(['run', 'trace_bind', '--host', '-o', 'json', '--comm', 'python3']);
  const runs = new Map<number, Run>();
  try {
    // Once the UDP bind (the second call) of a child is seen, its failed third call would have come before.
    let done: Run | undefined;
    await ig.waitFor(() => {
      done = [...runs.values()].find((r) => ig.events<BindEvent>().some((e) => e.proc.pid === r.pid && e.addr.proto === 'UDP'));
      return done !== undefined;
    }, () => bindOnce(runs), { everyMs: 500 });
    await ig.stop();
    const evs = ig.events<BindEvent>().filter((e) => e.proc.pid === done!.pid);
    assert.deepEqual(evs.map((e) => e.error), ['', '']);
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID ADDR ERROR BOUND_DEV_IF (OPTS hidden, as upstream\'s gadget.yaml says)', async () => {
  const ig = new IgProcess(['run', 'trace_bind', '--host', '--comm', 'python3']);
  const runs = new Map<number, Run>();
  const { header, row } = await columnsOf(ig, /127\.0\.0\.1:\d+\s+0$/, () => bindOnce(runs));
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+ADDR\s+ERROR\s+BOUND_DEV_IF$/);
  assert.match(row, /python3/);
});
