// Record and replay of what operators learn beside the records (docs/recording.md, host facts): the socket
// enricher's answers (snapshot_socket's socket.pid/comm/uid), kernel and user stack symbols (profile_cpu), and a
// gadget whose WASM module decodes every record and whose kernel program looks sockets up in gadget_sockets
// (trace_dns). Each live run is recorded, replayed with the same flags, and both outputs are compared byte for
// byte; the replay must also show the enriched values (not just agree on empty ones).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IG_MAIN, IgProcess, runIgSync } from '../harness/ig.js';
import { LineChild, TestNetns } from '../harness/activity.js';
import { waitOwnProgram } from '../harness/owned-progs.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-rec-h18feat-'));
const kids: ChildProcess[] = [];
let netns: TestNetns;
let dns: LineChild;
before(async () => {
  netns = new TestNetns('h18feat');
  // In the test's netns: a DNS responder on 127.0.0.1:53 (A 127.0.0.9 for every query) and a client whose socket
  // is bound before ig starts, sending the queries it reads on stdin ("q <id> <name>").
  dns = new LineChild(netns.prefix[0]!, [...netns.prefix.slice(1), process.execPath, '-e', `
    const dgram = require('dgram');
    const srv = dgram.createSocket('udp4'), cli = dgram.createSocket('udp4');
    srv.on('message', (m, r) => {
      let end = 12; while (m[end] !== 0) end += m[end] + 1;
      const h = Buffer.from(m.subarray(0, 12)); h.writeUInt16BE(0x8180, 2); h.writeUInt16BE(1, 6);
      const ans = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
      srv.send(Buffer.concat([h, m.subarray(12, end + 5), ans]), r.port, r.address);
    });
    srv.bind(53, '127.0.0.1', () => cli.bind(0, '127.0.0.1', () => console.log('ready ' + cli.address().port)));
    require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
      const [, id, name] = l.split(' ');
      const q = [Buffer.from([+id >> 8, +id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
      for (const x of name.split('.')) q.push(Buffer.from([x.length]), Buffer.from(x));
      q.push(Buffer.from([0, 0, 1, 0, 1]));
      cli.send(Buffer.concat(q), 53, '127.0.0.1');
    });`]);
  await dns.waitLine(/^ready /);
});
after(async () => {
  for (const k of kids) k.kill('SIGKILL');
  await dns?.kill();
  netns?.del();
  rmSync(dir, { recursive: true, force: true });
});

function replay(file: string, flags: string[]): { stdout: string; stderr: string; code: number | null } {
  return runIgSync(['replay', file, ...flags], { timeoutMs: 60000 });
}

test('trace_dns (WASM module, kernel-side gadget_sockets lookups): the replay prints what the live run printed', async () => {
  const file = join(dir, 'dns.igrec');
  const flags = ['--host', '-o', 'json'];
  const ig = new IgProcess(['run', 'trace_dns', ...flags, '--record', file], undefined, { prefix: netns.prefix });
  const name = `h18feat-${process.pid}.example.org`;
  let id = 0x4400;
  await ig.waitFor<{ name: string; qr: string }>((e) => e.name === `${name}.` && e.qr === 'R', () => dns.send(`q ${id++} ${name}`), { timeoutMs: 30000 });
  const live = await ig.stop();
  assert.equal(live.code, 0, live.stderr);
  const r = replay(file, flags);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, live.stdout, 'replay differs from the live run (trace_dns -o json)');
  // What only the module computes (the name from the packet) and only the kernel's socket lookup gives (the owner).
  const evs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { name: string; addresses: string; proc: { pid: number } });
  const mine = evs.filter((e) => e.name === `${name}.`);
  assert.ok(mine.length >= 2, r.stdout.slice(0, 2000));
  assert.ok(mine.some((e) => e.addresses === '127.0.0.9'));
  assert.ok(mine.every((e) => e.proc.pid === dns.pid), JSON.stringify(mine.map((e) => e.proc)));
});

test('snapshot_socket with socket.pid/comm/uid: the replay shows the recorded owners, byte for byte', () => {
  const file = join(dir, 'sock.igrec');
  const flags = ['-o', 'json', '--fields', 'src.addr,src.port,src.proto,dst.addr,dst.port,state,socket.pid,socket.comm,socket.uid'];
  const live = spawnSync(netns.prefix[0]!, [...netns.prefix.slice(1), process.execPath, IG_MAIN, 'run', 'snapshot_socket', ...flags, '--record', file], { encoding: 'utf8', timeout: 60000 });
  assert.equal(live.status, 0, live.stderr);
  const socks = JSON.parse(live.stdout.trim()) as { src: { port: number }; socket: { pid: number; comm: string } }[];
  const srv = socks.find((s) => s.src.port === 53);
  assert.ok(srv, live.stdout);
  assert.deepEqual([srv.socket.pid, srv.socket.comm], [dns.pid, 'node']);
  const r = replay(file, flags);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, live.stdout);
  // A replay asks the recording, not this machine: in the host's namespace nobody listens on 53.
  const info = runIgSync(['replay', '--info', file]);
  assert.match(info.stdout, /^Host facts: .*socket \d+/m);
});

/**
 * Let profile_cpu sample until `ms` after its start, and at least 1.5 s after it attached: on a loaded machine
 * start-up alone can take longer than `ms`, and a SIGINT before ig's handlers are in place kills it (exit null).
 */
async function sampleWhile(ig: IgProcess, ms: number): Promise<void> {
  const t0 = Date.now();
  try { await waitOwnProgram(ig.pid, 'ig_prof_cpu', 60000); } catch (e) { await ig.stop('SIGKILL'); throw e; }
  await new Promise((r) => setTimeout(r, Math.max(1500, ms - (Date.now() - t0))));
}

test('profile_cpu kernel and user stacks: the replay prints the recorded machine\'s symbols', async () => {
  // A known user call chain (a copy of dd reading /dev/urandom spends its time in the kernel's RNG and in libc).
  const busy = spawn('dd', ['if=/dev/urandom', 'of=/dev/null', 'bs=1M', 'status=none'], { stdio: 'ignore' });
  kids.push(busy);
  const file = join(dir, 'prof.igrec');
  const flags = ['--host', '-o', 'json', '--collect-ustack'];
  const ig = new IgProcess(['run', 'profile_cpu', ...flags, '--record', file]);
  await sampleWhile(ig, 3000);
  const live = await ig.stop('SIGINT');
  busy.kill('SIGKILL');
  assert.equal(live.code, 0, live.stderr);
  const samples = live.stdout.split('\n').filter((l) => l.startsWith('[')).flatMap((l) => JSON.parse(l) as { proc: { pid: number }; kern_stack: string; user_stack: string }[]);
  const dd = samples.filter((s) => s.proc.pid === busy.pid);
  assert.ok(dd.some((s) => /^\[0\][a-z_]/.test(s.kern_stack)), `kernel stacks of dd: ${dd.map((s) => s.kern_stack).join(' | ').slice(0, 500)}`);
  const r = replay(file, flags);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, live.stdout, 'replay differs from the live run (profile_cpu)');
  const info = runIgSync(['replay', '--info', file]);
  assert.match(info.stdout, /^Host facts: .*kstack \d+/m);
  assert.match(info.stdout, /^Host facts: .*ustack \d+/m);
});

// What only the recording machine could answer (stack symbols, socket owners) and the recorded run did not show:
// a replay that shows the field fails in one line naming it, instead of printing it empty.
test('a replay that shows a stack or socket field the recorded run did not show fails in one line naming the field', async () => {
  const busy = spawn('dd', ['if=/dev/urandom', 'of=/dev/null', 'bs=1M', 'status=none'], { stdio: 'ignore' });
  kids.push(busy);
  const prof = join(dir, 'prof-none.igrec');
  const ig = new IgProcess(['run', 'profile_cpu', '--host', '-o', 'none', '--record', prof]);
  await sampleWhile(ig, 2500);
  const live = await ig.stop('SIGINT');
  busy.kill('SIGKILL');
  assert.equal(live.code, 0, live.stderr);
  const p = replay(prof, ['-o', 'json']);
  assert.equal(p.code, 1, p.stdout.slice(0, 500));
  assert.match(p.stderr.trim(), /^Error: [^\n]*the recording has no kernel stack for field kern_stack \(kstack \d+\): the recorded run did not show it; replay without kern_stack[^\n]*$/);
  // Without the field the replay has everything it needs.
  const ok = replay(prof, ['-o', 'json', '--fields', 'proc.comm,proc.pid,samples']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /"comm":"dd"/);

  const sock = join(dir, 'sock-nofields.igrec');
  const run = spawnSync(netns.prefix[0]!, [...netns.prefix.slice(1), process.execPath, IG_MAIN, 'run', 'snapshot_socket', '-o', 'json', '--fields', 'src.addr,src.port', '--record', sock], { encoding: 'utf8', timeout: 60000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /"port":53/);
  const s = replay(sock, ['-o', 'json', '--fields', 'src.port,socket.pid,socket.comm']);
  assert.equal(s.code, 1, s.stdout.slice(0, 500));
  assert.match(s.stderr.trim(), /^Error: [^\n]*the recording has no socket owner for field socket\.pid\/comm\/uid \(socket [^)]+\): the recorded run did not show it[^\n]*$/);
  assert.equal(replay(sock, ['-o', 'json', '--fields', 'src.addr,src.port']).stdout, run.stdout);
});
