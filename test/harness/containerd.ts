/**
 * Test harness: a private, real containerd (+ runc) for tests.
 *
 *   const h = await startContainerd();
 *   const { id, pid } = await h.run('hn', 'while true; do cat /etc/hostname; sleep 1; done', { app: 'hn' });
 *   ...
 *   await h.kill('hn');   // SIGKILL the task, delete task and container
 *   await h.stop();       // everything below is torn down
 *
 * What `startContainerd()` does:
 *   - creates a temp dir W and writes `W/config.toml` (root/state/opt/grpc/ttrpc all inside W, the CRI plugin
 *     disabled), starts `containerd --config W/config.toml` and remembers its PID;
 *   - waits for the gRPC socket `W/containerd.sock`;
 *   - imports the busybox test image (test/harness/rootfs.ts) as `docker.io/library/bbox:latest` into a unique
 *     containerd namespace (`igtest-<random>` unless `opts.namespace` names one, e.g. `k8s.io`); containers run in the cgroup
 *     `/igtest-<random>/<name>`, so that cgroups are ours alone whatever the namespace.
 * `stop()` kills every task of that namespace and removes its containers, stops containerd by PID, kills any
 * leftover shim whose command line names W (by PID), unmounts what is left below W, removes the namespace's
 * cgroup directories and the temp dir. A process 'exit' hook SIGKILLs containerd if a test forgot `stop()`.
 *
 * Requires Debian packages `containerd` and `runc` (crun does not work on this host's hybrid cgroups) and
 * `busybox-static`. Use `containerdAvailable()` to skip tests where they are missing.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildTestImage, type TestImage } from './rootfs.js';
import {
  canConnect, killCgroupTree, killPid, pidAlive, pidsWithCmdlineContaining, removeCgroupTree, removeTree, run as exec, runtimeUsable, sleep, waitFor,
} from '../containers/proc-util.js';

export interface ContainerdHarness {
  /** absolute path of the containerd gRPC unix socket */
  socket: string;
  /** containerd namespace the harness's containers live in (unique per harness) */
  namespace: string;
  /** the cgroup (v2 path) the harness's containers run under, `/<cgroupParent>/<name>`: ours alone */
  cgroupParent: string;
  /** temp dir holding config, root, state, logs */
  dir: string;
  /** PID of the containerd daemon */
  pid: number;
  /** the imported test image */
  image: TestImage;
  /** name of the imported image (`docker.io/library/bbox:latest`) */
  imageName: string;
  /** run `ctr -a <socket> -n <namespace> ...args`, resolve with stdout */
  ctr(args: string[]): Promise<string>;
  /**
   * Start a detached container `name` running `cmd` (a string is run with `sh -c`) from the test image.
   * Resolves with the container id (= name) and the host PID of its init process.
   */
  run(name: string, cmd: string | string[], labels?: Record<string, string>): Promise<{ id: string; pid: number }>;
  /**
   * Start a detached container `name` running `argv` with the unpacked root filesystem at `rootfs` (`ctr run
   * --rootfs`: no image, the directory is the container's root as is; several containers may share one).
   */
  runRootfs(name: string, rootfs: string, argv: string[]): Promise<{ id: string; pid: number }>;
  /** host PID of the task of container `name` (0 when it has no running task) */
  taskPid(name: string): Promise<number>;
  /** SIGKILL the task of `name`, wait for it to stop, delete the task and the container */
  kill(name: string): Promise<void>;
  /** Tear everything down (idempotent). */
  stop(): Promise<void>;
}

export function containerdAvailable(): boolean {
  return runtimeUsable(['containerd', 'ctr', 'runc']);
}

export async function startContainerd(opts: { namespace?: string } = {}): Promise<ContainerdHarness> {
  const image = buildTestImage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-ctrd-'));
  const unique = `igtest-${randomBytes(3).toString('hex')}`;
  const namespace = opts.namespace ?? unique;
  // Containers' cgroups go below a parent that is ours alone, even when the namespace is a shared name such as
  // k8s.io (other tests may use it too): cleanup kills and removes only this tree.
  const cgroupParent = `/${unique}`;
  const socket = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(config, [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${dir}/opt"`,
    '',
  ].join('\n'));
  const logFd = fs.openSync(path.join(dir, 'containerd.log'), 'a');
  const child = spawn('containerd', ['--config', config], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  const pid = child.pid;
  if (!pid) throw new Error('containerd did not start');
  child.unref();
  let exited = false;
  child.once('exit', () => { exited = true; });
  const onExit = () => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } };
  process.on('exit', onExit);

  const ctr = async (args: string[]): Promise<string> =>
    (await exec('ctr', ['-a', socket, '-n', namespace, ...args], { timeoutMs: 60_000 })).stdout;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited && pidAlive(pid)) {
      try {
        const tasks = (await ctr(['task', 'ls', '-q'])).split('\n').map((s) => s.trim()).filter(Boolean);
        // Cleanup, best effort: a task or container already gone is what we want.
        for (const t of tasks) {
          await ctr(['task', 'kill', '-s', 'SIGKILL', t]).catch(() => undefined);
          await ctr(['task', 'rm', '-f', t]).catch(() => undefined);
        }
        const ctrs = (await ctr(['container', 'ls', '-q'])).split('\n').map((s) => s.trim()).filter(Boolean);
        for (const c of ctrs) await ctr(['container', 'rm', c]).catch(() => undefined);
      } catch { /* containerd already unusable: fall through to the hard cleanup */ }
    }
    await killPid(pid);
    process.off('exit', onExit);
    // shims (containerd-shim-runc-v2 -address <our socket> ...) outlive containerd: kill ours by PID
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
    await waitFor('containerd socket', async () => {
      if (exited) throw new Error(`containerd exited early; log: ${fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8').slice(-2000)}`);
      return fs.existsSync(socket) && canConnect(socket);
    }, 15_000);
    await ctr(['image', 'import', image.ociTar]);
  } catch (e) {
    await stop();
    throw e;
  }

  const taskPid = async (name: string): Promise<number> => {
    const out = await ctr(['task', 'ls']);
    for (const line of out.split('\n').slice(1)) {
      const [id, p, status] = line.trim().split(/\s+/);
      if (id === name && status === 'RUNNING') return Number(p);
    }
    return 0;
  };

  return {
    socket, namespace, cgroupParent, dir, pid, image, imageName: image.imageName, ctr, taskPid, stop,
    async run(name, cmd, labels = {}) {
      const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
      const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      await ctr(['run', '-d', '--cgroup', `${cgroupParent}/${name}`, ...labelArgs, image.imageName, name, ...argv]);
      const p = await waitFor(`task ${name} running`, () => taskPid(name), 10_000);
      return { id: name, pid: p };
    },
    async runRootfs(name, rootfs, argv) {
      await ctr(['run', '-d', '--cgroup', `${cgroupParent}/${name}`, '--rootfs', rootfs, name, ...argv]);
      const p = await waitFor(`task ${name} running`, () => taskPid(name), 10_000);
      return { id: name, pid: p };
    },
    async kill(name) {
      // Each step may find the task already stopped or removed: that is the goal, not an error.
      await ctr(['task', 'kill', '-s', 'SIGKILL', name]).catch(() => undefined);
      await waitFor(`task ${name} stopped`, async () => (await taskPid(name)) === 0, 10_000).catch(() => undefined);
      await ctr(['task', 'rm', '-f', name]).catch(() => undefined);
      await ctr(['container', 'rm', name]).catch(() => undefined);
    },
  };
}
