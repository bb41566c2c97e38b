// The ig image (scripts/build-image.sh: mmdebstrap bookworm + Node 20 + libbpf 1.4 + ig + the official gadgets),
// pushed to a real registry with skopeo, pulled from it by a real podman and run as a node runs it (privileged,
// host PID, /sys/kernel/debug, /sys/fs/bpf, /run from the host); gadgetctl on the host reaches its daemon through
// the socket in the shared /run and runs a gadget in it.
// Heavy: the first build of a given input takes 1.5-3 min on 2 busy cores (downloads ~15 MB of Debian packages);
// the layout is cached in .build/image/<input hash> and reused while ig's build is unchanged. Own file so that
// `scripts/test.sh image` runs it alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IgProcess, GADGETCTL_MAIN, repoRoot } from '../harness/ig.js';
import { startPodman, podmanAvailable, type PodmanHarness } from '../harness/podman.js';
import { startRegistry, haveRegistry, type RegistryInstance } from '../harness/registry.js';
import { deployManifests, DEFAULT_CONFIG_YAML } from '../../src/kube/manifests.js';

const ROOT = repoRoot();
const VERSION = `v${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`;
const tag = `h15deploy${process.pid % 100000}`;
// The container's /run is a host directory (this test's own: podman puts files such as .containerenv into the
// container's /run, and the host's real /run is everyone's): its daemon's socket appears there, as on a node.
const RUN_DIR = `/run/${tag}`;
const SOCKET = join(RUN_DIR, 'ig.sock');
const MARK = join(RUN_DIR, 'h15dmark');
let layout = '';
let podman: PodmanHarness | undefined;
let registry: RegistryInstance | undefined;
let buildSeconds = 0;
const skip = !podmanAvailable() ? 'podman, runc or conmon missing' : !haveRegistry() ? 'docker-registry missing' : spawnSync('which', ['mmdebstrap']).status !== 0 ? 'mmdebstrap missing (scripts/deps/apt-test.txt)' : false;

before(async () => {
  if (skip) return;
  const t0 = Date.now();
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-image.sh')], { cwd: ROOT, encoding: 'utf8', timeout: 600000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`build-image.sh failed: ${r.stderr}`);
  layout = r.stdout.trim().split('\n').at(-1)!;
  buildSeconds = (Date.now() - t0) / 1000;
  registry = await startRegistry();
  podman = await startPodman();
  mkdirSync(RUN_DIR, { recursive: true });
  copyFileSync('/bin/true', MARK);
});

after(async () => {
  await podman?.stop();
  await registry?.stop();
  rmSync(RUN_DIR, { recursive: true, force: true });
});

test('the layout: an OCI index whose manifest entry names its platform; the image holds ig, Node 20, libbpf 1.4 and the gadgets', { skip }, (t) => {
  t.diagnostic(`image build (or cache hit): ${buildSeconds.toFixed(1)} s`);
  const blob = (d: string) => readFileSync(join(layout, 'blobs', 'sha256', d.replace('sha256:', '')));
  const top = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { mediaType: string; digest: string; annotations: Record<string, string> }[] };
  assert.equal(top.manifests.length, 1);
  assert.equal(top.manifests[0]!.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(top.manifests[0]!.annotations['org.opencontainers.image.ref.name'], VERSION);
  const index = JSON.parse(blob(top.manifests[0]!.digest).toString()) as { mediaType: string; manifests: { mediaType: string; digest: string; platform: { os: string; architecture: string } }[] };
  assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(index.manifests.length, 1);
  const m = index.manifests[0]!;
  assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual(m.platform, { architecture: spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim(), os: 'linux' });
  const manifest = JSON.parse(blob(m.digest).toString()) as { config: { digest: string }; layers: { digest: string; size: number }[] };
  const config = JSON.parse(blob(manifest.config.digest).toString()) as { os: string; architecture: string; config: { Entrypoint: string[] }; rootfs: { diff_ids: string[] } };
  assert.equal(config.os, 'linux');
  assert.deepEqual(config.config.Entrypoint, ['/usr/bin/node', '/usr/lib/ig/dist/src/cli/main.js']);
  const size = manifest.layers.reduce((s, l) => s + l.size, 0);
  t.diagnostic(`image size: ${(size / 1048576).toFixed(1)} MiB compressed`);
  // What is inside, listed from the layer itself.
  const list = spawnSync('tar', ['-tzf', join(layout, 'blobs', 'sha256', manifest.layers[0]!.digest.replace('sha256:', ''))], { encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(list.status, 0, list.stderr);
  const files = new Set(list.stdout.split('\n').map((f) => f.replace(/^\.\//, '')));
  for (const f of ['usr/bin/node', 'usr/lib/ig/dist/src/cli/main.js', 'usr/lib/ig/native/build/Release/ig_native.node', 'usr/lib/ig/src/service/api.proto', 'var/lib/ig/oci-store/index.json', 'usr/lib/ig/node_modules/@grpc/grpc-js/package.json', 'bin/sh']) {
    assert.ok(files.has(f), `${f} in the image`);
  }
  assert.ok([...files].some((f) => /^usr\/lib\/x86_64-linux-gnu\/libbpf\.so\.1\.4\.\d+$|^usr\/lib\/[^/]+\/libbpf\.so\.1\.4\.\d+$/.test(f)), 'libbpf 1.4 from bookworm-backports');
  for (const d of ['typescript', 'binaryen', 'assemblyscript']) assert.ok(![...files].some((f) => f.startsWith(`usr/lib/ig/node_modules/${d}/`)), `no build-only package ${d}`);
});

test('pushed to a registry with skopeo (scripts/build-image.sh --push); the pushed index keeps its platform', { skip }, () => {
  const dest = `${registry!.host}/ig/ig:${VERSION}`;
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-image.sh'), '--push', dest], { cwd: ROOT, encoding: 'utf8', timeout: 300000, env: { ...process.env, SKOPEO_FLAGS: '--dest-tls-verify=false' } });
  assert.equal(r.status, 0, r.stderr);
  const raw = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${dest}`], { encoding: 'utf8' });
  assert.equal(raw.status, 0, raw.stderr);
  const idx = JSON.parse(raw.stdout) as { manifests?: { platform?: { os: string } }[] };
  assert.equal(idx.manifests?.[0]?.platform?.os, 'linux', raw.stdout);
});

test('podman pulls it from the registry and runs it as a node would; gadgetctl reaches its daemon and runs a gadget', { skip }, async (t) => {
  const p = podman!;
  const ref = `${registry!.host}/ig/ig:${VERSION}`;
  await p.podman(['pull', '--quiet', '--tls-verify=false', ref]);
  const v = await p.podman(['run', '--rm', '--network', 'none', `--cgroup-parent=${p.cgroupParent}`, ref, 'version']);
  assert.equal(v.trim(), VERSION);
  rmSync(SOCKET, { force: true });
  const t0 = Date.now();
  await p.podman(['run', '-d', '--name', `${tag}-ig`, '--privileged', '--pid', 'host', '--network', 'none', `--cgroup-parent=${p.cgroupParent}`,
    '-v', '/sys/kernel/debug:/sys/kernel/debug', '-v', '/sys/fs/bpf:/sys/fs/bpf', '-v', `${RUN_DIR}:/run`, '-e', 'NODE_NAME=podman-node',
    ref, 'daemon', '--host', 'unix:///run/ig.sock']);
  const deadline = Date.now() + 60000;
  while (!existsSync(SOCKET)) {
    if (Date.now() > deadline) throw new Error(`the daemon in the container did not create ${SOCKET}: ${await p.podman(['logs', `${tag}-ig`]).catch((e: Error) => e.message)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  t.diagnostic(`daemon in the container serving after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const ctl = (args: string[]) => spawnSync(process.execPath, [GADGETCTL_MAIN, ...args, '--remote-address', `unix://${SOCKET}`], { encoding: 'utf8', timeout: 60000 });
  const ver = ctl(['version']);
  assert.equal(ver.status, 0, ver.stderr);
  assert.match(ver.stdout, new RegExp(`^Server version: ${VERSION.replace(/\./g, '\\.')}$`, 'm'));
  // A gadget from the image's own store, loaded by the container's libbpf into this kernel.
  const run = new IgProcess(['run', 'trace_exec', '--host', '--filter', 'proc.comm==h15dmark', '-o', 'json', '--remote-address', `unix://${SOCKET}`], undefined, { main: GADGETCTL_MAIN });
  try {
    const ev = await run.waitFor<{ proc?: { comm?: string }; args?: string }>((e) => e.proc?.comm === 'h15dmark' && (e.args ?? '').includes('from-the-host'), () => { spawnSync(MARK, ['from-the-host']); }, { timeoutMs: 60000, everyMs: 300 });
    assert.ok(ev);
  } finally {
    await run.stop('SIGINT');
  }
  assert.equal((await p.podman(['inspect', '-f', '{{.State.Running}}', `${tag}-ig`])).trim(), 'true', 'the daemon still runs after its client left');
  await p.podman(['stop', '-t', '10', `${tag}-ig`]);
});

test('the DaemonSet\'s own container command runs in the image: its daemon answers on the pod\'s loopback :8080, where port-forward lands, and its readiness probe passes', { skip }, async () => {
  const p = podman!;
  const ref = `${registry!.host}/ig/ig:${VERSION}`;
  const ds = deployManifests({ image: ref }).find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: { containers: { command: string[]; readinessProbe: { exec: { command: string[] } } }[] } } } };
  const c = ds.spec.template.spec.containers[0]!;
  const cfgDir = join(RUN_DIR, 'config');
  mkdirSync(cfgDir, { recursive: true });
  writeFileSync(join(cfgDir, 'config.yaml'), DEFAULT_CONFIG_YAML); // what the ConfigMap holds
  const name = `${tag}-ds`;
  await p.podman(['run', '-d', '--name', name, '--privileged', '--pid', 'host', '--network', 'none', `--cgroup-parent=${p.cgroupParent}`,
    '-v', '/sys/kernel/debug:/sys/kernel/debug', '-v', '/sys/fs/bpf:/sys/fs/bpf', '-v', `${cfgDir}:/etc/ig:ro`, '-e', 'NODE_NAME=podman-node',
    '--entrypoint', c.command[0]!, ref, ...c.command.slice(1)]);
  const pid = Number((await p.podman(['inspect', '-f', '{{.State.Pid}}', name])).trim());
  assert.ok(pid > 0);
  // The kubelet's port-forward connects to localhost:8080 in the pod's network namespace: so does this.
  const deadline = Date.now() + 60000;
  let last = '';
  for (;;) {
    const v = spawnSync('nsenter', ['-t', String(pid), '-n', process.execPath, GADGETCTL_MAIN, '--remote-address', 'tcp://127.0.0.1:8080', '--connection-timeout', '3', 'version'], { encoding: 'utf8', timeout: 30000 });
    last = v.stdout + v.stderr;
    if (new RegExp(`^Server version: ${VERSION.replace(/\./g, '\\.')}$`, 'm').test(v.stdout)) break;
    if (Date.now() > deadline) throw new Error(`the DaemonSet's daemon did not answer on 127.0.0.1:8080: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await p.podman(['exec', name, ...c.readinessProbe.exec.command]);
  await p.podman(['stop', '-t', '10', name]);
});
