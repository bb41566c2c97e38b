// ig daemon + gadgetctl end to end, with a real daemon on a temp unix socket (stopped by PID).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DaemonHarness, OwnCat, ownedProgIds, until } from '../harness/daemon.js';
import { GADGETCTL_MAIN } from '../harness/ig.js';

const d = new DaemonHarness('daemon-e2e');
// The cat whose opens and execs the tests wait for: the machine's other cats neither match nor crowd the stream.
const cat = new OwnCat(d.dir, 'hdaemone2ecat');
const poke = () => cat.poke();
type Ev = { proc?: { comm: string; pid: number }; fname?: string };
const ours = (e: Ev) => cat.owns(e.proc?.pid, e.fname);
before(async () => { await d.start(); });
after(async () => { await d.cleanup(); });

test('the unix socket is 0600 (root only) without --group', () => {
  assert.equal(statSync(d.socket).mode & 0o777, 0o600);
});

test('gadgetctl run trace_open --host -o json prints the cat event', async () => {
  const p = d.ctlProcess(['run', 'trace_open', '--host', '-o', 'json']);
  try {
    const ev = await p.waitFor<Ev & { timestamp: string }>(ours, poke, { timeoutMs: 30000 });
    assert.match(ev.timestamp, /^\d{4}-\d\d-\d\dT/);
  } finally {
    const r = await p.stop('SIGINT');
    assert.equal(r.code, 0, r.stderr);
  }
  // The run ended with the client: the daemon holds no program any more.
  await until('daemon to release its programs', () => ownedProgIds(d.proc!.pid).length === 0);
});

test('columns output and --fields are rendered by the client', async () => {
  const p = d.ctlProcess(['run', 'trace_open', '--host', '--fields', 'proc.comm,fname', '--comm', cat.comm]);
  try {
    await until('a row of our cat', () => { poke(); return p.stdout.split('\n').some((l) => l.trim().split(/\s+/).join(' ') === `${cat.comm} ${cat.file}`); }, 30000);
    assert.match(p.stdout.split('\n')[0]!, /^COMM\s+FNAME/);
  } finally { await p.stop('SIGINT'); }
});

test('--timeout ends the run and gadgetctl exits 0', () => {
  const t0 = Date.now();
  const r = d.ctl(['run', 'trace_open', '--host', '-o', 'json', '--timeout', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - t0 < 20000);
});

test('gadgetctl -v says how the output is rendered: natively from the received frames, or in JS and why', () => {
  const json = d.ctl(['run', 'trace_open', '--host', '-o', 'json', '--timeout', '1', '-v']);
  assert.equal(json.code, 0, json.stderr);
  assert.match(json.stderr, /\bopen: JSON rendered natively from the received batch frames, straight to stdout/);
  // the cli operator's own reason ("output is not stdout") is about its subscribers, not what happens here
  assert.doesNotMatch(json.stderr, /rendered in JS/);
  const off = d.ctl(['run', 'trace_open', '--host', '-o', 'json', '--timeout', '1', '-v'], { env: { ...process.env, IG_NATIVE_RENDER: '0' } });
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stderr, /\bopen: JSON rendered in JS \(IG_NATIVE_RENDER=0\)/);
});

test('gadgetctl ... | head -2 ends quietly with exit 0 once the reader went away (native JSON lines, JS yaml)', async () => {
  for (const mode of ['json', 'yaml']) {
    // cat runs meanwhile so that lines come; the pipe's reader (head) exits after two lines
    const ticker = spawn('sh', ['-c', 'while :; do cat /etc/hostname >/dev/null; sleep 0.02; done'], { stdio: 'ignore' });
    try {
      const r = spawnSync('bash', ['-c', `"$0" "$1" run trace_open --host -o ${mode} --remote-address "$2" 2>"$3" | head -2 >/dev/null; echo "\${PIPESTATUS[0]}"`,
        process.execPath, GADGETCTL_MAIN, d.address, join(d.dir, `head-${mode}.err`)], { encoding: 'utf8', timeout: 60000 });
      const stderr = readFileSync(join(d.dir, `head-${mode}.err`), 'utf8');
      assert.equal(r.stdout.trim(), '0', `-o ${mode}: gadgetctl's exit code (stderr: ${stderr})`);
      assert.doesNotMatch(stderr, /EPIPE|Error/, `-o ${mode}`);
    } finally { ticker.kill(); }
  }
  await until('daemon to release its programs', () => ownedProgIds(d.proc!.pid).length === 0);
});

test('version shows client and server', () => {
  const r = d.ctl(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Client version: v\d/);
  assert.match(r.stdout, /Server version: v\d/);
});

test('image inspect shows params and data sources of the daemon\'s image', () => {
  const r = d.ctl(['image', 'inspect', 'trace_open', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { imageName: string; params: { key: string }[]; dataSources: { name: string; fields: { name: string }[] }[] };
  assert.match(info.imageName, /trace_open/);
  assert.ok(info.params.some((p) => p.key === 'host'));
  assert.ok(info.dataSources[0]!.fields.some((f) => f.name === 'fname'));
});

test('detached instances: --detach --name --tags, list, show, attach, delete', async () => {
  // --comm: other tests and benchmarks may be opening files on this host by the million.
  const c = d.ctl(['run', 'trace_open', '--host', '--comm', cat.comm, '--detach', '--name', 'opens', '--tags', 'a,b']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  assert.match(id, /^[a-f0-9]{32}$/);
  assert.ok(readdirSync(d.instancesDir).includes(`${id}.gadget`));
  for (const cmd of ['list', 'ls', 'ps']) {
    const l = d.ctl([cmd]);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, new RegExp(`^${id.slice(0, 12)}\\s+opens\\s+a,b\\s+trace_open\\s+Running$`, 'm'));
  }
  const s = d.ctl(['show', 'opens']);
  assert.match(s.stdout, new RegExp(`ID: ${id}`));
  assert.match(s.stdout, /operator\.LocalManager\.host|host: "true"|host: true/i);
  // A second instance with the same name is refused with one clear message.
  const dup = d.ctl(['run', 'trace_open', '--host', '--detach', '--name', 'opens']);
  assert.equal(dup.code, 1);
  assert.equal(dup.stderr.trim(), 'Error: gadget instance with name "opens" already exists');
  // Attach by name: events flow; leaving does not stop the instance.
  const a = d.ctlProcess(['attach', 'opens', '-o', 'json']);
  try {
    await a.waitFor<Ev>(ours, poke, { timeoutMs: 30000 });
  } finally { await a.stop('SIGINT'); }
  assert.ok(ownedProgIds(d.proc!.pid).length > 0, 'the instance keeps its programs after the client leaves');
  // Attach by ID prefix too.
  const b = d.ctlProcess(['attach', id.slice(0, 8), '-o', 'json']);
  try { await b.waitFor<Ev>(ours, poke, { timeoutMs: 30000 }); } finally { await b.stop('SIGINT'); }
  const del = d.ctl(['delete', 'opens']);
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stdout.trim(), id);
  assert.ok(!readdirSync(d.instancesDir).includes(`${id}.gadget`));
  assert.equal(d.ctl(['list']).stdout.trim().split('\n').length, 1);
  await until('daemon to release the instance\'s programs', () => ownedProgIds(d.proc!.pid).length === 0);
});

test('detached instances are resumed after a daemon restart; several gadgets at once', async () => {
  const ids: string[] = [];
  for (const [img, name] of [['trace_open', 'o1'], ['trace_exec', 'e1']] as const) {
    const c = d.ctl(['run', img, '--host', '--comm', cat.comm, '--detach', '--name', name]);
    assert.equal(c.code, 0, c.stderr);
    ids.push(c.stdout.trim());
  }
  const before = ownedProgIds(d.proc!.pid);
  assert.ok(before.length >= 2, `two gadgets hold programs (${before.join(',')})`);
  await d.stop('SIGTERM');
  await d.start();
  const l = d.ctl(['list', '-o', 'json']);
  const list = JSON.parse(l.stdout) as { id: string; name: string; status: string }[];
  assert.deepEqual(list.map((i) => [i.name, i.status]).sort(), [['e1', 'Running'], ['o1', 'Running']]);
  await until('resumed programs', () => ownedProgIds(d.proc!.pid).length >= 2);
  const a = d.ctlProcess(['attach', 'o1', '-o', 'json']);
  try { await a.waitFor<Ev>(ours, poke, { timeoutMs: 30000 }); } finally { await a.stop('SIGINT'); }
  const del = d.ctl(['delete', 'o1', 'e1']);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(readdirSync(d.instancesDir).filter((f) => f.endsWith('.gadget')), []);
});

test('gadgetctl run -f FILE: several instance specs, detached or run side by side', async () => {
  const file = join(d.dir, 'specs.yaml');
  writeFileSync(file, [
    'apiVersion: 1', 'kind: instance-spec', 'image: trace_open', 'name: spec-open', 'tags: [x]', 'paramValues:', '  operator.LocalManager.host: "true"', `  operator.oci.ebpf.comm: ${cat.comm}`,
    '---',
    'apiVersion: 1', 'kind: instance-spec', 'image: trace_exec', 'name: spec-exec', 'paramValues:', '  operator.LocalManager.host: "true"', '',
  ].join('\n'));
  const c = d.ctl(['run', '-f', file, '--detach']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout.trim().split('\n').length, 2);
  const names = (JSON.parse(d.ctl(['list', '-o', 'json']).stdout) as { name: string; tags: string[] }[]).map((i) => i.name).sort();
  assert.deepEqual(names, ['spec-exec', 'spec-open']);
  assert.equal(d.ctl(['delete', 'spec-open', 'spec-exec']).code, 0);
  // Without --detach both run now, in this client; their events interleave on stdout.
  const p = d.ctlProcess(['run', '-f', file, '-o', 'json']);
  try {
    await p.waitFor<Ev>(ours, poke, { timeoutMs: 30000 });
    // spec-exec has no comm filter: only an exec of our cat (by pid) counts
    await p.waitFor<Ev>((e) => !('fname' in e) && cat.pids.has(e.proc?.pid ?? -1) && e.proc?.comm === cat.comm, poke, { timeoutMs: 30000 });
  } finally { await p.stop('SIGINT'); }
  // A bad manifest is one line naming the entry.
  writeFileSync(file, 'apiVersion: 1\nkind: nope\nimage: x\n');
  const bad = d.ctl(['run', '-f', file]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim(), `Error: ${file}: expected kind "instance-spec" for entry 1, got "nope"`);
});
