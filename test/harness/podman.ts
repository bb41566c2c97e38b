/**
 * Test harness: a private, real podman (+ runc) with its API service, for tests.
 *
 *   const p = await startPodman();
 *   const { id, pid } = await p.run('hn', 'while true; do cat /etc/hostname; sleep 1; done', { app: 'hn' });
 *   // p.socket serves the Docker-compatible API (/v1.41/...) and libpod's (/v4.0.0/libpod/...)
 *   await p.kill('hn');   // podman rm -f -t 0
 *   await p.stop();
 *
 * What `startPodman()` does:
 *   - creates a temp dir W with `containers.conf` and `storage.conf` that keep everything podman owns inside
 *     W: graphroot W/root, runroot W/run, tmp_dir W/tmp, file locks (not the host-wide /dev/shm segment),
 *     file events log, CNI config dir W/cni; and that make podman work on this host: runtime runc (crun fails
 *     on hybrid cgroups), cgroup_manager cgroupfs (no systemd), explicit ulimits (no CAP_SYS_RESOURCE), and
 *     network none (the default bridge would create 10.88.0.0/16; tests must not use it);
 *   - every podman command runs with CONTAINERS_CONF / CONTAINERS_STORAGE_CONF pointing there;
 *   - imports the busybox rootfs (test/harness/rootfs.ts) as `localhost/bbox:latest`;
 *   - starts `podman system service --time=0 unix://W/podman.sock` and remembers its PID.
 * Containers are created with `--network none` and `--cgroup-parent=/<unique>` so their cgroups are ours alone.
 * `stop()` removes all containers, stops the service by PID, kills leftover processes whose command line
 * names W (conmon) by PID, unmounts what is left below W, removes the cgroup parent and the temp dir.
 *
 * Requires Debian packages podman, runc, conmon, fuse-overlayfs, uidmap, catatonit, busybox-static.
 * Use `podmanAvailable()` to skip tests where they are missing.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTestImage, type TestImage } from './rootfs.js';
import {
  canConnect, killCgroupTree, killPid, pidsWithCmdlineContaining, removeCgroupTree, removeTree, run as exec, runtimeUsable, sleep, waitFor,
} from '../containers/proc-util.js';

export interface PodmanHarness {
  /** unix socket of `podman system service` (Docker-compatible and libpod API) */
  socket: string;
  /** temp dir holding config, storage and state */
  dir: string;
  /** PID of the `podman system service` process */
  servicePid: number;
  /** cgroup parent of the harness's containers, e.g. `/igtest-pod-1a2b3c` */
  cgroupParent: string;
  image: TestImage;
  /** `localhost/bbox:latest` */
  imageName: string;
  /** environment (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF) for running podman against this instance */
  env: NodeJS.ProcessEnv;
  /** run `podman ...args` against this instance, resolve with stdout */
  podman(args: string[]): Promise<string>;
  /**
   * Start a detached container `name` running `cmd` (a string is run with `sh -c`) from the test image, with
   * `--network none`. Resolves with the full container id and the host PID of its init process.
   */
  run(name: string, cmd: string | string[], labels?: Record<string, string>): Promise<{ id: string; pid: number }>;
  /** Kill and remove container `name` (`podman rm -f -t 0`). */
  kill(name: string): Promise<void>;
  /** Stop only the API service (e.g. to simulate the runtime dying); containers keep running. */
  stopService(): Promise<void>;
  /** Tear everything down (idempotent). */
  stop(): Promise<void>;
}

export function podmanAvailable(): boolean {
  return runtimeUsable(['podman', 'runc', 'conmon']);
}

export async function startPodman(): Promise<PodmanHarness> {
  const image = buildTestImage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-podman-'));
  const cgroupParent = `/igtest-pod-${randomBytes(3).toString('hex')}`;
  const socket = path.join(dir, 'podman.sock');
  for (const d of ['tmp', 'cni']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(path.join(dir, 'containers.conf'), [
    '[containers]',
    'default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]',
    'netns = "none"',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'runtime = "runc"',
    'events_logger = "file"',
    `events_logfile_path = "${dir}/events.log"`,
    `tmp_dir = "${dir}/tmp"`,
    'lock_type = "file"',
    '[network]',
    `network_config_dir = "${dir}/cni"`,
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'storage.conf'), [
    '[storage]',
    'driver = "overlay"',
    `graphroot = "${dir}/root"`,
    `runroot = "${dir}/run"`,
    '',
  ].join('\n'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_CONF: path.join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'),
  };
  const podman = async (args: string[]): Promise<string> =>
    (await exec('podman', args, { env, timeoutMs: 120_000 })).stdout;

  let servicePid = 0;
  let serviceExited = true;
  const onExit = () => { if (servicePid) try { process.kill(servicePid, 'SIGKILL'); } catch { /* gone */ } };
  process.on('exit', onExit);

  const stopService = async (): Promise<void> => {
    if (servicePid && !serviceExited) await killPid(servicePid);
    serviceExited = true;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Cleanup: containers already gone are fine; the service is stopped next whatever this says.
    await podman(['rm', '-f', '-t', '0', '--all']).catch(() => undefined);
    await stopService();
    process.off('exit', onExit);
    for (const p of pidsWithCmdlineContaining(dir)) {
      try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
    await sleep(50);
    // container processes whose runtime died before it could kill them
    await killCgroupTree(cgroupParent);
    await removeCgroupTree(cgroupParent);
    await removeTree(dir);
  };

  try {
    await podman(['import', image.rootfsTar, 'localhost/bbox:latest']);
    const logFd = fs.openSync(path.join(dir, 'service.log'), 'a');
    const child = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    if (!child.pid) throw new Error('podman system service did not start');
    servicePid = child.pid;
    serviceExited = false;
    child.unref();
    child.once('exit', () => { serviceExited = true; });
    await waitFor('podman API socket', async () => {
      if (serviceExited) throw new Error(`podman system service exited; log: ${fs.readFileSync(path.join(dir, 'service.log'), 'utf8').slice(-2000)}`);
      return fs.existsSync(socket) && canConnect(socket);
    }, 15_000);
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    socket, dir, cgroupParent, image, imageName: 'localhost/bbox:latest', env, podman, stop, stopService,
    get servicePid() { return servicePid; },
    async run(name, cmd, labels = {}) {
      const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
      const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      const out = await podman(['run', '-d', '--name', name, '--network', 'none', `--cgroup-parent=${cgroupParent}`,
        ...labelArgs, 'localhost/bbox:latest', ...argv]);
      const id = out.trim().split('\n').pop() ?? '';
      const pid = Number((await podman(['inspect', '-f', '{{.State.Pid}}', id])).trim());
      if (!pid) throw new Error(`podman container ${name} has no pid`);
      return { id, pid };
    },
    async kill(name) {
      await podman(['rm', '-f', '-t', '0', name]);
    },
  };
}
