/**
 * CRI-O support, tested against a RECORDED-API FAKE: CRI-O cannot run on this host, so this test serves the
 * CRI `runtime.v1.RuntimeService` methods the collection uses (ListContainers, ContainerStatus with verbose
 * info, ListPodSandbox) from a grpc-js server on a temp unix socket. The responses are fixtures shaped like
 * what CRI-O returns for a Kubernetes pod (`crictl ps/inspect/pods -o json`): io.kubernetes.* labels, an
 * image_ref with a digest, and verbose info["info"] JSON carrying the init "pid". The pids are real
 * processes in their own mount namespaces (`unshare --mount sleep`), so the /proc side of the collection
 * (mntns, netns, cgroup, start time) is exercised for real. This is a contract test against the CRI API
 * shape, not a conformance test against CRI-O.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ContainerCollection, containerToJSON, hostMntns } from '../../src/containers/index.js';
import { protoDir } from '../../src/containers/grpc-util.js';
import { record, waitEvent, warnings } from './helpers.js';
import { sleep, waitFor } from './proc-util.js';

const skip = process.getuid?.() === 0 && fs.existsSync('/usr/bin/unshare') ? false : 'needs root and util-linux unshare';

// ---- recorded fixtures (CRI-O 1.2x responses for a Deployment pod "web-7d9c8b5f4-x2k9p") ----------------
const SANDBOX_ID = 'c0b5a7e1d6f24f8e9a3b1c2d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7';
const POD_UID = '8e1b2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const SANDBOX = {
  id: SANDBOX_ID,
  metadata: { name: 'web-7d9c8b5f4-x2k9p', uid: POD_UID, namespace: 'default', attempt: 0 },
  state: 'SANDBOX_READY',
  created_at: '1732650000000000000',
  labels: {
    app: 'web',
    'pod-template-hash': '7d9c8b5f4',
    'io.kubernetes.container.name': 'POD',
    'io.kubernetes.pod.name': 'web-7d9c8b5f4-x2k9p',
    'io.kubernetes.pod.namespace': 'default',
    'io.kubernetes.pod.uid': POD_UID,
  },
  annotations: { 'kubernetes.io/config.source': 'api', 'kubernetes.io/config.seen': '2024-11-26T19:40:00Z' },
};

function containerFixture(id: string, name: string, state: string) {
  return {
    id,
    pod_sandbox_id: SANDBOX_ID,
    metadata: { name, attempt: 0 },
    image: { image: 'docker.io/library/nginx:1.25' },
    image_ref: 'docker.io/library/nginx@sha256:2bdc49f2f8ae8d8dc50ed00f2ee56d00385c6f8bc8a8b320d0a294d9e3b49026',
    state,
    created_at: '1732650001000000000',
    labels: {
      'io.kubernetes.container.name': name,
      'io.kubernetes.pod.name': 'web-7d9c8b5f4-x2k9p',
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.uid': POD_UID,
    },
    annotations: {
      'io.kubernetes.container.hash': '6d3b2f1a',
      'io.kubernetes.container.restartCount': '0',
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.pod.terminationGracePeriod': '30',
    },
  };
}

interface FakeContainer { fixture: ReturnType<typeof containerFixture>; pid: number; startedAt: string }

/** The recorded-API fake CRI-O server. */
class RecordedCrioFake {
  readonly containers = new Map<string, FakeContainer>();
  readonly calls: Array<{ method: string; req: unknown }> = [];
  private server = new grpc.Server();
  constructor(readonly socket: string) {}

  async start(): Promise<void> {
    const dir = protoDir('cri/proto');
    const def = protoLoader.loadSync(path.join(dir, 'api.proto'), { includeDirs: [dir], keepCase: true, longs: String, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: { service: grpc.ServiceDefinition } } } };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ok = (method: string, f: (req: any) => unknown): grpc.handleUnaryCall<any, any> => (call, cb) => {
      this.calls.push({ method, req: call.request });
      try { cb(null, f(call.request)); } catch (e) { cb(e as grpc.ServiceError, null); }
    };
    this.server.addService(pkg.runtime.v1.RuntimeService.service, {
      Version: ok('Version', () => ({ version: '0.1.0', runtime_name: 'cri-o', runtime_version: '1.28.1', runtime_api_version: 'v1' })),
      ListPodSandbox: ok('ListPodSandbox', () => ({ items: [SANDBOX] })),
      ListContainers: ok('ListContainers', (req: { filter?: { state?: { state: string } | null } | null }) => {
        const want = req.filter?.state?.state;
        return { containers: [...this.containers.values()].map((c) => c.fixture).filter((f) => !want || f.state === want) };
      }),
      ContainerStatus: ok('ContainerStatus', (req: { container_id: string; verbose: boolean }) => {
        const c = this.containers.get(req.container_id);
        if (!c) throw Object.assign(new Error(`could not find container "${req.container_id}"`), { code: grpc.status.NOT_FOUND });
        const f = c.fixture;
        return {
          status: {
            id: f.id, metadata: f.metadata, state: f.state, created_at: f.created_at, started_at: c.startedAt,
            finished_at: '0', exit_code: 0, image: f.image, image_ref: f.image_ref, reason: '', message: '',
            labels: f.labels, annotations: f.annotations,
          },
          info: req.verbose ? {
            info: JSON.stringify({ sandboxID: SANDBOX_ID, pid: c.pid, privileged: false, runtimeSpec: { ociVersion: '1.0.2-dev', annotations: { 'io.kubernetes.cri-o.ContainerType': 'container' } } }),
          } : {},
        };
      }),
    });
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix:${this.socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
  }

  stop(): void { this.server.forceShutdown(); }
}

const procs: ChildProcess[] = [];
async function nsProcess(): Promise<number> {
  const child = spawn('unshare', ['--mount', 'sleep', '1000'], { stdio: 'ignore' });
  procs.push(child);
  const host = hostMntns();
  await waitFor('unshare', () => fs.readlinkSync(`/proc/${child.pid}/ns/mnt`) !== `mnt:[${host}]`, 5000);
  return child.pid!;
}

describe('cri-o runtime (recorded-API fake CRI server)', { skip }, () => {
  let dir: string;
  let fake: RecordedCrioFake;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-crio-fake-'));
    fake = new RecordedCrioFake(path.join(dir, 'crio.sock'));
    await fake.start();
  });
  after(() => {
    fake?.stop();
    for (const p of procs) p.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('lists, follows and removes CRI containers with Kubernetes metadata', async () => {
    const pid1 = await nsProcess();
    const id1 = 'a1'.repeat(32);
    fake.containers.set(id1, { fixture: containerFixture(id1, 'nginx', 'CONTAINER_RUNNING'), pid: pid1, startedAt: '1732650002123456789' });
    const idExited = 'e0'.repeat(32);
    fake.containers.set(idExited, { fixture: containerFixture(idExited, 'init-db', 'CONTAINER_EXITED'), pid: 0, startedAt: '0' });

    const w = warnings();
    const col = await ContainerCollection.start({ runtimes: ['cri-o'], crioSocket: fake.socket, criPollIntervalMs: 100, warn: w.warn });
    try {
      const events = record(col);
      const listed = col.list();
      assert.equal(listed.length, 1, 'exited containers are not listed');
      const c = listed[0]!;
      assert.equal(c.runtime, 'cri-o');
      assert.equal(c.id, id1);
      assert.equal(c.name, 'nginx');
      assert.equal(c.pid, pid1);
      assert.equal(c.imageName, 'docker.io/library/nginx:1.25');
      assert.equal(c.imageDigest, 'sha256:2bdc49f2f8ae8d8dc50ed00f2ee56d00385c6f8bc8a8b320d0a294d9e3b49026');
      assert.equal(c.startedAt, 1732650002123456789);
      assert.deepEqual(c.k8s, {
        namespace: 'default', podName: 'web-7d9c8b5f4-x2k9p', containerName: 'nginx', podUid: POD_UID,
        podLabels: { app: 'web', 'pod-template-hash': '7d9c8b5f4' },
      });
      assert.equal(c.mntns, BigInt(/\d+/.exec(fs.readlinkSync(`/proc/${pid1}/ns/mnt`))![0]));
      const j = containerToJSON(c);
      assert.equal(j.runtime.runtimeName, 'cri-o');
      assert.equal(j.k8s.podName, 'web-7d9c8b5f4-x2k9p');
      assert.equal(j.k8s.podUID, POD_UID);
      // the pid comes from ContainerStatus(verbose=true)
      assert.ok(fake.calls.some((x) => x.method === 'ContainerStatus' && (x.req as { verbose: boolean }).verbose));

      // a new container appears → add (polling)
      const pid2 = await nsProcess();
      const id2 = 'b2'.repeat(32);
      fake.containers.set(id2, { fixture: containerFixture(id2, 'sidecar', 'CONTAINER_RUNNING'), pid: pid2, startedAt: '1732650003000000000' });
      const add = await waitEvent(events, 'add', (x) => x.id === id2, 3000);
      assert.equal(add.c.name, 'sidecar');
      assert.equal(add.c.pid, pid2);

      // it exits → remove
      fake.containers.get(id2)!.fixture.state = 'CONTAINER_EXITED';
      await waitEvent(events, 'remove', (x) => x.id === id2, 3000);
      assert.equal(col.byMntns(add.c.mntns)?.id, id2, 'recently removed');
      assert.deepEqual(col.list().map((x) => x.id), [id1]);
      assert.deepEqual(w.list, []);
    } finally {
      await col.stop();
    }
  });

  test('the CRI server going away mid-run gives one warning', async () => {
    const w = warnings();
    const col = await ContainerCollection.start({ runtimes: ['cri-o'], crioSocket: fake.socket, criPollIntervalMs: 100, warn: w.warn });
    try {
      fake.stop();
      await waitFor('warning', () => w.list.length > 0, 5000);
      await sleep(400);
      assert.equal(w.list.length, 1, JSON.stringify(w.list));
      assert.match(w.list[0]!, /^cri-o: lost connection to /);
    } finally {
      await col.stop();
    }
  });
});
