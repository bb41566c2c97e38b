/**
 * `ig list-containers` and multi-runtime behaviour, against real containerd and real podman at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runListContainers, type ListContainersOptions } from '../../src/cli/list-containers.js';
import { ContainerCollection } from '../../src/containers/index.js';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../harness/containerd.js';
import { podmanAvailable, startPodman, type PodmanHarness } from '../harness/podman.js';
import { record, waitEvent, warnings } from './helpers.js';
import { sleep, waitFor } from './proc-util.js';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ig-entry.js');

/** Spawn the test entry: `node ig-entry.js ...args`. */
function ig(args: string[], opts: { env?: NodeJS.ProcessEnv; untilOut?: RegExp; killAfterMs?: number } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (opts.untilOut?.test(out)) child.kill('SIGINT'); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const t = setTimeout(() => child.kill('SIGINT'), opts.killAfterMs ?? 30_000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, out, err }); });
  });
}

/** Call the command function in-process. */
async function runCmd(opts: ListContainersOptions, signal?: AbortSignal, onOut?: (all: string) => void): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runListContainers(opts, {
    out: (s) => { out += s; onOut?.(out); },
    err: (s) => { err += s; },
    signal,
  });
  return { code, out, err };
}

describe('ig list-containers: argument errors (no runtime needed)', () => {
  test('unknown runtime → one line on stderr, exit 1, no stack trace', async () => {
    const r = await ig(['list-containers', '-r', 'containerd,rkt']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'Error: runtime "rkt" is not supported (supported: containerd, docker, cri-o, podman)\n');
    assert.equal(r.out, '');
  });

  test('bad output mode → exit 1', async () => {
    const r = await ig(['list-containers', '-o', 'yaml', '-r', 'docker', '--docker-socketpath', '/nonexistent/docker.sock']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error: --output: unsupported mode "yaml"/);
    assert.equal(r.err.trim().split('\n').length, 1);
  });

  test('default runtimes with absent sockets are skipped silently', async () => {
    // HOST_ROOT moves every default socket into an empty dir, whatever this host runs
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-noroot-'));
    try {
      const r = await ig(['list-containers', '-o', 'json'], { env: { ...process.env, HOST_ROOT: root } });
      assert.equal(r.code, 0);
      assert.equal(r.err, '');
      assert.deepEqual(JSON.parse(r.out), []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('explicitly requested runtime with an absent socket → warning, not a crash', async () => {
    const r = await ig(['list-containers', '-r', 'docker', '--docker-socketpath', '/nonexistent/docker.sock']);
    assert.equal(r.code, 0);
    assert.equal(r.err, 'WARN: docker: socket /nonexistent/docker.sock not found, runtime skipped\nRuntimes reached: none; not reached: docker (no socket or no answer)\n');
    assert.match(r.out, /^RUNTIME\.RUNTIMENAME\s+RUNTIME\.CONTAINERID\s+RUNTIME\.CONTAINERNAME/);
  });

  test('a socket file nobody listens on → warning', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-stale-'));
    const sock = path.join(dir, 'podman.sock');
    // a runtime that died without cleaning up: a listener process SIGKILLed leaves its socket file behind
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)})`], { stdio: 'ignore' });
    await waitFor('listener socket', () => fs.existsSync(sock), 5000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    try {
      const w = warnings();
      const col = await ContainerCollection.start({ runtimes: ['podman'], podmanSocket: sock, warn: w.warn });
      await col.stop();
      assert.equal(w.list.length, 1);
      assert.match(w.list[0]!, /^podman: cannot use .*podman\.sock: .*ECONNREFUSED/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const skip = containerdAvailable() && podmanAvailable() ? false : 'needs containerd, podman, runc, conmon, busybox-static and root';

describe('ig list-containers with real containerd and podman', { skip }, () => {
  let h: ContainerdHarness;
  let p: PodmanHarness;
  before(async () => {
    [h, p] = await Promise.all([startContainerd(), startPodman()]);
    await Promise.all([h.run('ctr-b', 'sleep 1000'), h.run('ctr-a', 'sleep 1000', { 'io.kubernetes.pod.name': 'pod1', 'io.kubernetes.pod.namespace': 'ns1', 'io.kubernetes.container.name': 'kc' }), p.run('pod-z', 'sleep 1000'), p.run('pod-y', 'sleep 1000')]);
  });
  after(async () => { await Promise.all([h?.stop(), p?.stop()]); });

  const flags = () => ['-r', 'containerd,podman', '--containerd-socketpath', h.socket, '--containerd-namespace', h.namespace, '--podman-socketpath', p.socket];
  const opts = (): ListContainersOptions => ({ runtimes: 'containerd,podman', containerdSocketpath: h.socket, containerdNamespace: h.namespace, podmanSocketpath: p.socket });

  test('-o json lists both runtimes with upstream field names, sorted by runtime then name', async () => {
    const r = await ig(['list-containers', '-o', 'json', ...flags()]);
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    const list = JSON.parse(r.out) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(list.map((c) => `${c.runtime.runtimeName}/${c.runtime.containerName}`),
      ['containerd/ctr-b', 'containerd/kc', 'podman/pod-y', 'podman/pod-z']);
    const kc = list[1]!;
    assert.deepEqual(Object.keys(kc.runtime).sort(), ['containerId', 'containerImageDigest', 'containerImageName', 'containerName', 'containerPid', 'containerStartedAt', 'runtimeName']);
    assert.equal(kc.runtime.containerId, 'ctr-a');
    assert.equal(kc.runtime.containerImageName, 'docker.io/library/bbox:latest');
    assert.equal(kc.runtime.containerImageDigest, h.image.manifestDigest);
    assert.equal(kc.runtime.containerPid, await h.taskPid('ctr-a'));
    assert.deepEqual(kc.k8s, { namespace: 'ns1', podName: 'pod1', containerName: 'kc' });
    assert.equal(kc.pid, kc.runtime.containerPid);
    assert.equal(typeof kc.mntns, 'number');
    assert.equal(typeof kc.netns, 'number');
    assert.equal(kc.cgroupPath, `${h.cgroupParent}/ctr-a`);
    assert.equal(typeof kc.cgroupID, 'number');
    const pz = list[3]!;
    assert.equal(pz.runtime.containerId.length, 64);
    assert.deepEqual(pz.k8s, {});
    assert.equal(pz.mntns, Number(/\d+/.exec(fs.readlinkSync(`/proc/${pz.pid}/ns/mnt`))![0]));
  });

  test('columns output', async () => {
    const r = await runCmd(opts());
    assert.equal(r.code, 0);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^RUNTIME\.RUNTIMENAME +RUNTIME\.CONTAINERID +RUNTIME\.CONTAINERNAME +RUNTIME\.CONTAINERIMAGENAME +RUNTIME\.CONTAINERPID +MNTNS +NETNS +K8S\.NAMESPACE +K8S\.PODNAME +K8S\.CONTAINERNAME$/);
    assert.equal(lines.length, 5);
    assert.match(lines[1]!, /^containerd {10}ctr-b {15}ctr-b /);
    // container ids are cut to 13 characters
    assert.match(lines[3]!, /^podman {14}[0-9a-f]{13} {7}pod-y /);
    assert.match(lines[4]!, /^podman {14}[0-9a-f]{13} {7}pod-z /);
    // and on stderr, which runtimes it reached (an empty table must not look broken)
    assert.equal(r.err, `Runtimes reached: containerd (namespace ${h.namespace}), podman\n`);
  });

  test('-c filters by runtime container name', async () => {
    const r = await runCmd({ ...opts(), output: 'json', containername: 'pod-y,ctr-b' });
    assert.deepEqual((JSON.parse(r.out) as Array<{ runtime: { containerName: string } }>).map((c) => c.runtime.containerName), ['ctr-b', 'pod-y']);
    const r2 = await runCmd({ ...opts(), output: 'json', containername: '!pod-y' });
    assert.deepEqual((JSON.parse(r2.out) as Array<{ runtime: { containerName: string } }>).map((c) => c.runtime.containerName), ['ctr-b', 'kc', 'pod-z']);
  });

  test('--watch prints the current containers, then add and remove events as they come', async () => {
    const ac = new AbortController();
    let seen = '';
    const done = runCmd({ ...opts(), watch: true, output: 'json' }, ac.signal, (all) => { seen = all; });
    await waitFor('initial events', () => seen.split('\n').filter(Boolean).length >= 4, 10_000);
    await Promise.all([h.run('w-ctrd', 'sleep 1000'), p.run('w-pod', 'sleep 1000')]);
    await waitFor('CREATED events', () => /"w-ctrd"/.test(seen) && /"w-pod"/.test(seen), 10_000);
    await Promise.all([h.kill('w-ctrd'), p.kill('w-pod')]);
    await waitFor('DELETED events', () => seen.split('\n').filter((l) => l.includes('"DELETED"')).length >= 2, 10_000);
    ac.abort();
    const r = await done;
    assert.equal(r.code, 0);
    assert.equal(r.err, '');
    const evs = r.out.trim().split('\n').map((l) => JSON.parse(l) as { event: string; timestamp: string; container: { runtime: { containerName: string } } });
    assert.deepEqual(evs.slice(0, 4).map((e) => `${e.event} ${e.container.runtime.containerName}`),
      ['CREATED ctr-b', 'CREATED kc', 'CREATED pod-y', 'CREATED pod-z']);
    const later = evs.slice(4).map((e) => `${e.event} ${e.container.runtime.containerName}`);
    assert.deepEqual(later.filter((s) => s.includes('w-ctrd')), ['CREATED w-ctrd', 'DELETED w-ctrd']);
    assert.deepEqual(later.filter((s) => s.includes('w-pod')), ['CREATED w-pod', 'DELETED w-pod']);
    assert.ok(!Number.isNaN(Date.parse(evs[0]!.timestamp)));
  });

  test('--watch in columns mode through the CLI entry, ended by SIGINT', async () => {
    const run = ig(['list-containers', '-w', ...flags()], { untilOut: /CREATED +podman .* late/ });
    await sleep(1200);
    await p.run('late', 'sleep 1000');
    const r = await run;
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^EVENT +RUNTIME\.RUNTIMENAME +RUNTIME\.CONTAINERID +RUNTIME\.CONTAINERNAME/);
    assert.ok(lines.some((l) => /^CREATED +containerd +ctr-b/.test(l)));
    assert.match(lines[lines.length - 1]!, /^CREATED +podman +[0-9a-f]{13} +late /);
    await p.kill('late');
  });

  test('one runtime killed mid-run: one warning, the other runtime carries on', async () => {
    const h2 = await startContainerd();
    try {
      await h2.run('doomed', 'sleep 1000');
      const w = warnings();
      const col = await ContainerCollection.start({
        runtimes: ['containerd', 'podman'], containerdSocket: h2.socket, containerdNamespace: h2.namespace,
        podmanSocket: p.socket, explicitRuntimes: true, warn: w.warn,
      });
      try {
        const events = record(col);
        assert.ok(col.list().some((c) => c.name === 'doomed'));
        process.kill(h2.pid, 'SIGKILL'); // containerd dies; its shim and container live on
        await waitFor('lost warning', () => w.list.length > 0, 5000);
        await p.run('after-crash', 'sleep 1000');
        await waitEvent(events, 'add', (c) => c.name === 'after-crash');
        await p.kill('after-crash');
        await waitEvent(events, 'remove', (c) => c.name === 'after-crash');
        assert.equal(w.list.length, 1, JSON.stringify(w.list));
        assert.match(w.list[0]!, /^containerd: lost connection to /);
        assert.ok(col.list().some((c) => c.name === 'doomed'), 'a still-running container of the dead runtime is kept');
      } finally {
        await col.stop();
      }
    } finally {
      await h2.stop(); // cleans up after the killed containerd (shim and container by PID / cgroup)
    }
  });
});
