// The eBPF operator end to end with a purpose-built gadget: params written into .rodata with their types,
// enum and bitfield names, l4 endpoints, the other typed formatters, a map iterator, and lost samples.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { TestGadgets } from './test-gadgets.js';

const gadgets = new TestGadgets();
const env = gadgets.env;
const PY = (code: string) => spawn('python3', ['-c', code], { stdio: 'ignore' });

before(() => {
  gadgets.build('features', 'features.bpf.c', `name: features
description: eBPF operator test gadget
datasources:
  features:
    annotations: {ebpf.ring.min-size: "0"}
    fields:
      label:
        annotations: {description: the label param}
  calls:
    annotations: {ebpf.map.flush-on-stop: "true"}
params:
  ebpf:
    port: {key: port, description: a port}
`);
});

interface Ev {
  pid: number; color: string; perms: string; dst: { addr: string; port: number; proto: string; version: number };
  port_param: number; flag_param: boolean; label: string; sig: string; syscall: string; latency: string; size: string;
}

test('typed params, enums, _set bitfields, l4 endpoints and formatters', async () => {
  const ig = new IgProcess(['run', 'features', '-o', 'features:json,calls:none', '--port', '443', '--flag', '--label', 'hello'], env);
  const kids = new Set<number>();
  const ev = await ig.waitFor<Ev>((e) => kids.has(e.pid), () => { kids.add(PY('import os; os.getppid()').pid!); });
  await ig.stop();
  assert.equal(ev.color, 'COLOR_GREEN');
  assert.equal(ev.perms, 'PERM_READ|PERM_EXEC');
  assert.deepEqual({ addr: ev.dst.addr, port: ev.dst.port, proto: ev.dst.proto, version: ev.dst.version }, { addr: '127.0.0.1', port: 443, proto: 'TCP', version: 4 });
  assert.equal(ev.port_param, 443);
  assert.equal(ev.flag_param, true);
  assert.equal(ev.label, 'hello');
  assert.equal(ev.sig, 'SIGKILL');
  assert.equal(ev.syscall, 'getppid');
  assert.equal(ev.latency, '12.34µs');
  assert.equal(ev.size, '4.1 kB');
});

test('param defaults come from the object; bad values are refused by type', () => {
  const r = runIgSync(['run', 'features', '--port', '70000'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: invalid value "70000" for --port: out of range for uint16/);
  const s = runIgSync(['run', 'features', '--label', 'x'.repeat(20)], { env });
  assert.match(s.stderr, /longer than 15 bytes/);
});

test('columns show the l4 endpoint as addr:port', async () => {
  const ig = new IgProcess(['run', 'features', '--fields', 'features:pid,dst,color;calls:pid', '-o', 'features:columns,calls:none'], env);
  const deadline = Date.now() + 20000;
  while (!/127\.0\.0\.1:8080/.test(ig.stdout) && Date.now() < deadline) { PY('import os; os.getppid()'); await new Promise((r) => setTimeout(r, 250)); }
  await ig.stop();
  assert.match(ig.stdout, /^PID\s+DST\s+COLOR\n/);
  assert.match(ig.stdout, /\d+\s+127\.0\.0\.1:8080\s+COLOR_GREEN/);
});

test('map iterator: one JSON array per fetch, --map-fetch-count ends the run, values are per interval', async () => {
  const worker = spawn('python3', ['-c', 'import os, time\nwhile True:\n  [os.getpgid(0) for _ in range(50)]\n  time.sleep(0.05)'], { stdio: 'ignore' });
  try {
    const r = runIgSync(['run', 'features', '-o', 'json', '--pid', String(worker.pid), '--map-fetch-interval', '300ms', '--map-fetch-count', '3', '--sort', '-calls', '--max-entries', '5'], { env, timeoutMs: 30000 });
    assert.equal(r.code, 0, r.stderr);
    const arrays = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { pid: number; comm: string; calls: number }[]);
    assert.ok(arrays.length >= 3, `fetches: ${arrays.length}`);
    const rows = arrays.slice(0, 3).flat();
    assert.ok(rows.length > 0 && rows.every((x) => x.pid === worker.pid && x.comm === 'python3'));
    // The map is drained at each fetch: a 300 ms interval holds at most a few hundred calls, not a running total.
    assert.ok(rows.every((x) => x.calls > 0 && x.calls < 2000), JSON.stringify(rows));
  } finally {
    worker.kill('SIGKILL');
  }
});

test('lost samples are reported when the ring overflows', async () => {
  const ig = new IgProcess(['run', 'features', '-o', 'none', '--burst', '64'], env);
  const deadline = Date.now() + 20000;
  while (!/lost \d+ events/.test(ig.stderr) && Date.now() < deadline) {
    PY('import os\nfor _ in range(2000): os.getppid()');
    await new Promise((r) => setTimeout(r, 300));
  }
  // Reported while the run goes on (the shared 1 s tick polls the lost counters), not only by the last look at stop.
  const whileRunning = /lost \d+ events/.test(ig.stderr);
  const r = await ig.stop();
  assert.equal(r.code, 0, r.stderr);
  assert.ok(whileRunning, `no lost-events warning before stop: ${r.stderr}`);
  assert.match(r.stderr, /WARN: features: lost \d+ events \(ring buffer full\)/);
});
