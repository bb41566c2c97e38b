/**
 * LocalManager with real runtimes: `ig run trace_open/trace_exec` against a private containerd and a private
 * podman (started and stopped here), checking container enrichment, `-c` selection, `--host`, in-kernel
 * mount-namespace filtering (the filter map ig hands the program, read back with bpftool), containers that
 * start after ig or exit while it runs, and runtimes whose socket is absent or dies mid-run.
 *
 * `ig list-containers -o json` with both runtimes at once is covered in depth by
 * test/containers/list-containers.test.ts; here it is checked once more through the real CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../harness/containerd.js';
import { podmanAvailable, startPodman, type PodmanHarness } from '../harness/podman.js';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { waitFor } from '../containers/proc-util.js';
import { hostMntns } from '../../src/containers/index.js';
import {
  bpfObjectsOf, mapExists, mapKeysU64, mntnsFilterMapId, mntnsOf, pinnedEntries, progExists, progMapIds, gadgetRodataVars, runtimeArgs,
} from './helpers.js';

type Ev = {
  fname?: string; args?: string; error?: string;
  proc: { comm: string; pid: number; mntns_id: number };
  runtime: { containerName: string; containerId: string; runtimeName: string; containerPid: number; containerImageName: string; containerImageDigest: string; containerStartedAt: number };
};

const skip = containerdAvailable() && podmanAvailable() ? false : 'needs root, containerd, podman, runc, conmon, busybox-static';
const LOOP = 'while true; do cat /etc/hostname; sleep 0.2; done';

describe('LocalManager with real containerd and podman', { skip, timeout: 600_000 }, () => {
  let h: ContainerdHarness;
  let p: PodmanHarness;
  let hn: { id: string; pid: number };
  let phn: { id: string; pid: number };
  const marker = path.join(os.tmpdir(), `ig-lm-host-${randomBytes(4).toString('hex')}`);
  const hostMnt = Number(hostMntns());
  const igs: IgProcess[] = [];
  const progIds = new Set<number>();
  const mapIds = new Set<number>();
  let pinnedBefore: string[] = [];

  /** Host activity: this (host) process opens the marker file. */
  const hostOpen = (n = 1) => { for (let i = 0; i < n; i++) fs.closeSync(fs.openSync(marker, 'r')); };

  const startIg = (args: string[]): IgProcess => {
    const ig = new IgProcess(args);
    igs.push(ig);
    return ig;
  };
  /** Remember the BPF objects a running ig holds, to check they are gone after it stops. */
  const noteBpf = (ig: IgProcess) => {
    const o = bpfObjectsOf(ig.pid);
    for (const id of o.progIds) progIds.add(id);
    for (const m of o.maps) mapIds.add(m.id);
  };
  const flags = () => runtimeArgs({ containerdSocket: h.socket, containerdNamespace: h.namespace, podmanSocket: p.socket });

  before(async () => {
    fs.writeFileSync(marker, 'host\n');
    pinnedBefore = pinnedEntries();
    [h, p] = await Promise.all([startContainerd(), startPodman()]);
    [hn, phn] = await Promise.all([h.run('hn', LOOP), p.run('phn', LOOP)]);
  });

  after(async () => {
    for (const ig of igs) await ig.stop();
    await Promise.all([h?.stop(), p?.stop()]);
    fs.rmSync(marker, { force: true });
    // nothing of ours stays in the kernel
    for (const id of progIds) assert.equal(progExists(id), false, `BPF program ${id} still loaded`);
    for (const id of mapIds) assert.equal(mapExists(id), false, `BPF map ${id} still exists`);
    const pinnedNow = pinnedEntries().filter((e) => !pinnedBefore.includes(e) && /ig|gadget|mntns/i.test(e));
    assert.deepEqual(pinnedNow, []);
  });

  const checkHn = async (e: Ev) => {
    assert.equal(e.runtime.containerName, 'hn');
    assert.equal(e.runtime.containerId, 'hn');
    assert.equal(e.runtime.runtimeName, 'containerd');
    assert.equal(e.runtime.containerPid, hn.pid);
    assert.equal(e.runtime.containerImageName, 'docker.io/library/bbox:latest');
    assert.equal(e.runtime.containerImageDigest, h.image.manifestDigest);
    assert.ok(e.runtime.containerStartedAt > 1.5e18, `containerStartedAt ${e.runtime.containerStartedAt}`);
    assert.equal(BigInt(e.proc.mntns_id), mntnsOf(hn.pid));
  };

  test('trace_open -c <containerd container>: its events, enriched; nothing from the host, dropped in the kernel', async () => {
    const ig = startIg(['run', 'trace_open', '-o', 'json', '-c', 'hn', ...flags()]);
    const first = await ig.waitFor<Ev>((e) => e.fname === '/etc/hostname', () => hostOpen());
    await checkHn(first);

    // What the kernel does: the program uses our filter map, which holds exactly hn's mntns, and the
    // filter is switched on in its .rodata.
    noteBpf(ig);
    const filterId = mntnsFilterMapId(ig.pid);
    assert.ok(filterId, 'ig holds a mntns filter map');
    assert.deepEqual(mapKeysU64(filterId), [mntnsOf(hn.pid)]);
    const progs = bpfObjectsOf(ig.pid).progIds;
    assert.ok(progs.length > 0);
    // the programs that filter use our map (exit probes may not look at it at all)
    assert.ok(progs.some((id) => progMapIds(id).includes(filterId)), 'a program uses the filter map');
    assert.equal(gadgetRodataVars(progs)?.['gadget_filter_by_mntns'], true);

    // A burst of host activity while the container keeps running: none of it may reach the ring buffer.
    hostOpen(3000);
    for (let i = 0; i < 20; i++) spawnSync('cat', [marker], { stdio: 'ignore' });
    const seen = ig.events<Ev>().length;
    // two more container events after the burst: the ring has been read past it
    await ig.waitFor<Ev>(() => ig.events<Ev>().length >= seen + 2, () => undefined);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const evs = ig.events<Ev>();
    assert.ok(evs.length >= 3);
    for (const e of evs) {
      assert.equal(e.runtime.containerName, 'hn', `unexpected event ${JSON.stringify(e)}`);
      assert.notEqual(e.proc.mntns_id, hostMnt);
      assert.notEqual(e.fname, marker);
    }
  });

  test('trace_open -c <podman container>', async () => {
    const ig = startIg(['run', 'trace_open', '-o', 'json', '-c', 'phn', ...flags()]);
    const e = await ig.waitFor<Ev>((x) => x.fname === '/etc/hostname' && x.error === '', () => hostOpen());
    noteBpf(ig);
    assert.equal(e.runtime.containerName, 'phn');
    assert.equal(e.runtime.containerId, phn.id);
    assert.equal(e.runtime.containerId.length, 64);
    assert.equal(e.runtime.runtimeName, 'podman');
    assert.equal(e.runtime.containerPid, phn.pid);
    assert.equal(e.runtime.containerImageName, 'localhost/bbox:latest');
    assert.match(e.runtime.containerImageDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(BigInt(e.proc.mntns_id), mntnsOf(phn.pid));
    hostOpen(500);
    const n = ig.events<Ev>().length;
    await ig.waitFor<Ev>(() => ig.events<Ev>().length >= n + 2, () => undefined);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    for (const x of ig.events<Ev>()) assert.equal(x.runtime.containerName, 'phn', JSON.stringify(x));
  });

  test('columns output shows the container name', async () => {
    const ig = startIg(['run', 'trace_open', '-c', 'hn', ...flags()]);
    await waitFor('a columns line for hn', () => /^hn\s+cat\s+\d+/m.test(ig.stdout), 20_000);
    noteBpf(ig);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.split('\n')[0]!, /^RUNTIME\.CONTAINERNAME\s+COMM\s+PID\s+/);
  });

  test('containers started after ig are picked up (filter map updated live) and dropped when they go', async () => {
    const ig = startIg(['run', 'trace_open', '-o', 'json', '-c', 'hn,late-c,late-p', ...flags()]);
    await ig.waitFor<Ev>((e) => e.runtime.containerName === 'hn', () => hostOpen());
    noteBpf(ig);
    const filterId = mntnsFilterMapId(ig.pid)!;
    const [lc, lp] = await Promise.all([h.run('late-c', LOOP), p.run('late-p', LOOP)]);
    const ec = await ig.waitFor<Ev>((e) => e.runtime.containerName === 'late-c' && e.fname === '/etc/hostname', () => hostOpen());
    assert.equal(ec.runtime.runtimeName, 'containerd');
    assert.equal(ec.runtime.containerPid, lc.pid);
    const ep = await ig.waitFor<Ev>((e) => e.runtime.containerName === 'late-p' && e.fname === '/etc/hostname', () => hostOpen());
    assert.equal(ep.runtime.runtimeName, 'podman');
    assert.equal(ep.runtime.containerId, lp.id);
    const mc = mntnsOf(lc.pid);
    const mp = mntnsOf(lp.pid);
    assert.deepEqual(new Set(mapKeysU64(filterId)), new Set([mntnsOf(hn.pid), mc, mp]));
    await Promise.all([h.kill('late-c'), p.kill('late-p')]);
    await waitFor('late containers leave the filter map', () => {
      const keys = mapKeysU64(filterId);
      return !keys.includes(mc) && !keys.includes(mp) && keys.includes(mntnsOf(hn.pid));
    }, 15_000);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    for (const e of ig.events<Ev>()) assert.ok(['hn', 'late-c', 'late-p'].includes(e.runtime.containerName), JSON.stringify(e));
  });

  test('a container that exits: its last events are still enriched', async () => {
    // Each container loops until the test creates /tmp/go in it, then reads /etc/group once and exits.
    const last = 'while [ ! -e /tmp/go ]; do cat /etc/hostname; sleep 0.2; done; cat /etc/group; exit 0';
    const [bc, bp] = await Promise.all([h.run('bye-c', last), p.run('bye-p', last)]);
    const ig = startIg(['run', 'trace_open', '-o', 'json', '-c', 'bye-c,bye-p', ...flags()]);
    await ig.waitFor<Ev>((e) => e.runtime.containerName === 'bye-c', () => hostOpen());
    await ig.waitFor<Ev>((e) => e.runtime.containerName === 'bye-p', () => hostOpen());
    noteBpf(ig);
    const filterId = mntnsFilterMapId(ig.pid)!;
    const mc = mntnsOf(bc.pid);
    const mp = mntnsOf(bp.pid);
    fs.writeFileSync(`/proc/${bc.pid}/root/tmp/go`, '');
    fs.writeFileSync(`/proc/${bp.pid}/root/tmp/go`, '');
    const gc = await ig.waitFor<Ev>((e) => e.fname === '/etc/group' && e.runtime.containerName === 'bye-c', () => undefined);
    const gp = await ig.waitFor<Ev>((e) => e.fname === '/etc/group' && e.runtime.containerName === 'bye-p', () => undefined);
    assert.equal(gc.runtime.containerId, 'bye-c');
    assert.equal(gc.runtime.containerPid, bc.pid);
    assert.equal(gp.runtime.containerId, bp.id);
    assert.equal(gp.runtime.containerPid, bp.pid);
    // the runtimes reported the exits: both are gone from the kernel's filter map
    await waitFor('exited containers leave the filter map', () => {
      const keys = mapKeysU64(filterId);
      return !keys.includes(mc) && !keys.includes(mp);
    }, 15_000);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    // no event lost its enrichment on the way out
    for (const e of ig.events<Ev>()) assert.ok(['bye-c', 'bye-p'].includes(e.runtime.containerName), JSON.stringify(e));
    await Promise.all([h.kill('bye-c'), p.kill('bye-p')]);
  });

  test('--host shows host and container events; host events carry no container fields', async () => {
    const ig = startIg(['run', 'trace_open', '-o', 'json', '--host', ...flags()]);
    const host = await ig.waitFor<Ev>((e) => e.fname === marker, () => hostOpen());
    noteBpf(ig);
    assert.equal(host.proc.mntns_id, hostMnt);
    assert.equal(host.runtime.containerName, '');
    assert.equal(host.runtime.containerId, '');
    assert.equal(host.runtime.containerPid, 0);
    const c = await ig.waitFor<Ev>((e) => e.runtime.containerName === 'hn', () => hostOpen());
    await checkHn(c);
    await ig.waitFor<Ev>((e) => e.runtime.containerName === 'phn', () => hostOpen());
    // with --host the program's mntns filter stays off
    assert.equal(gadgetRodataVars(bpfObjectsOf(ig.pid).progIds)?.['gadget_filter_by_mntns'], false);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
  });

  test('trace_exec -c: exec in a container (podman exec, ctr task exec), no host execs', async () => {
    const ig = startIg(['run', 'trace_exec', '-o', 'json', '-c', 'hn,phn', ...flags()]);
    const hostExec = () => { spawnSync('ls', [marker], { stdio: 'ignore' }); };
    // wait until the programs are attached: the loop's cat runs in both containers
    await ig.waitFor<Ev>((e) => e.runtime.containerName === 'hn', hostExec);
    await ig.waitFor<Ev>((e) => e.runtime.containerName === 'phn', hostExec);
    noteBpf(ig);
    await p.podman(['exec', 'phn', 'ls', '/etc/hostname']);
    await h.ctr(['task', 'exec', '--exec-id', `x${randomBytes(3).toString('hex')}`, 'hn', 'ls', '/bin/busybox']);
    const pe = await ig.waitFor<Ev>((e) => e.proc.comm === 'ls' && e.runtime.containerName === 'phn', hostExec);
    assert.match(pe.args ?? '', /ls\u00a0\/etc\/hostname$/);
    assert.equal(pe.runtime.runtimeName, 'podman');
    const he = await ig.waitFor<Ev>((e) => e.proc.comm === 'ls' && e.runtime.containerName === 'hn', hostExec);
    assert.match(he.args ?? '', /ls\u00a0\/bin\/busybox$/);
    assert.equal(he.runtime.containerId, 'hn');
    hostExec();
    const n = ig.events<Ev>().length;
    await ig.waitFor<Ev>(() => ig.events<Ev>().length >= n + 2, () => undefined);
    const r = await ig.stop();
    assert.equal(r.code, 0, r.stderr);
    for (const e of ig.events<Ev>()) {
      assert.ok(['hn', 'phn'].includes(e.runtime.containerName), JSON.stringify(e));
      assert.ok(!(e.args ?? '').includes(marker), JSON.stringify(e));
    }
  });

  test('an explicitly requested runtime whose socket is absent: a warning, ig runs with the others', async () => {
    const ig = startIg(['run', 'trace_open', '-o', 'json', '-c', 'phn', '-r', 'containerd,podman',
      '--containerd-socketpath', '/nonexistent/containerd.sock', '--podman-socketpath', p.socket]);
    const e = await ig.waitFor<Ev>((x) => x.runtime.containerName === 'phn', () => hostOpen());
    noteBpf(ig);
    assert.equal(e.runtime.runtimeName, 'podman');
    assert.match(ig.stderr, /containerd: socket \/nonexistent\/containerd\.sock not found, runtime skipped/);
    assert.doesNotMatch(ig.stderr, /no container runtime is reachable/);
    const r = await ig.stop();
    assert.equal(r.code, 0);
  });

  test('no runtime reachable: one warning suggesting --host, no events, no crash', async () => {
    const ig = startIg(['run', 'trace_open', '-o', 'json', '-r', 'containerd', '--containerd-socketpath', '/nonexistent/containerd.sock']);
    await waitFor('the warning', () => /use --host/.test(ig.stderr), 20_000);
    await waitFor('programs loaded', () => bpfObjectsOf(ig.pid).progIds.length > 0, 20_000);
    noteBpf(ig);
    hostOpen(200);
    const filterId = mntnsFilterMapId(ig.pid)!;
    assert.deepEqual(mapKeysU64(filterId), []);
    const r = await ig.stop();
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.match(/no container runtime is reachable/g)?.length, 1);
  });

  test('containerd killed while ig runs: a warning, ig keeps running, podman keeps being followed', async () => {
    const h2 = await startContainerd();
    try {
      const dz = await h2.run('dz', LOOP);
      const ig = startIg(['run', 'trace_open', '-o', 'json', '-c', 'dz,phn,pk', ...runtimeArgs({ containerdSocket: h2.socket, containerdNamespace: h2.namespace, podmanSocket: p.socket })]);
      await ig.waitFor<Ev>((e) => e.runtime.containerName === 'dz', () => hostOpen());
      await ig.waitFor<Ev>((e) => e.runtime.containerName === 'phn', () => hostOpen());
      noteBpf(ig);
      process.kill(h2.pid, 'SIGKILL');
      await waitFor('the lost-connection warning', () => /containerd: lost connection to .*containerd\.sock/.test(ig.stderr), 15_000);
      const n = ig.events<Ev>().length;
      // the container outlives its runtime (its shim runs on) and is still followed and enriched
      const since = (name: string) => () => ig.events<Ev>().slice(n).some((e) => e.runtime.containerName === name);
      await ig.waitFor<Ev>(since('dz'), () => undefined);
      await ig.waitFor<Ev>(since('phn'), () => undefined);
      // podman's event stream still works: a new podman container is picked up
      const pk = await p.run('pk', LOOP);
      const e = await ig.waitFor<Ev>((x) => x.runtime.containerName === 'pk', () => undefined);
      assert.equal(e.runtime.containerPid, pk.pid);
      assert.equal(ig.child.exitCode, null, 'ig is still running');
      const r = await ig.stop();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.match(/lost connection/g)?.length, 1);
      assert.equal(dz.pid > 0, true);
      await p.kill('pk');
    } finally {
      await h2.stop();
    }
  });

  test('ig list-containers -o json lists both runtimes', () => {
    const r = runIgSync(['list-containers', '-o', 'json', ...flags()]);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { runtime: { runtimeName: string; containerName: string; containerPid: number } }[];
    const hnRow = list.find((c) => c.runtime.containerName === 'hn');
    const phnRow = list.find((c) => c.runtime.containerName === 'phn');
    assert.equal(hnRow?.runtime.runtimeName, 'containerd');
    assert.equal(hnRow?.runtime.containerPid, hn.pid);
    assert.equal(phnRow?.runtime.runtimeName, 'podman');
    assert.equal(phnRow?.runtime.containerPid, phn.pid);
  });
});
