/**
 * Test harness: a tiny busybox-static container image built without any registry.
 *
 * `buildTestImage()` produces, once per process (the result is cached and the temp dir is removed at
 * process exit):
 *   - `rootfsTar`: a plain tar of a root filesystem holding /bin/busybox (static) and a symlink for
 *     every applet it provides (sh, cat, sleep, ls, echo, true, nc, ...), /etc/passwd, /etc/group;
 *   - `ociDir` / `ociTar`: the same rootfs as a one-layer OCI image layout (gzip layer, config with
 *     `rootfs.diff_ids`, manifest, `index.json` annotated with `io.containerd.image.name`), which
 *     `ctr image import` and `skopeo copy oci:DIR:latest` accept.
 *
 * Requires the Debian package `busybox-static` (`/bin/busybox`) and GNU tar.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TestImage {
  /** temp dir holding everything below (removed at process exit) */
  dir: string;
  /** plain rootfs tar (for `podman import`) */
  rootfsTar: string;
  /** OCI image layout directory */
  ociDir: string;
  /** the OCI image layout as a tar (for `ctr image import`) */
  ociTar: string;
  /** fully qualified name stored in index.json (`io.containerd.image.name`) */
  imageName: string;
  /** `org.opencontainers.image.ref.name` (the tag) */
  tag: string;
  /** sha256:… of the manifest, i.e. the image digest a runtime reports for this image */
  manifestDigest: string;
  /** sha256:… of the image config (the "image id") */
  configDigest: string;
  /** applets linked into /bin */
  applets: string[];
}

export const TEST_IMAGE_NAME = 'docker.io/library/bbox:latest';

let cached: TestImage | undefined;

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function busyboxPath(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    if (fs.existsSync(p)) return p;
  }
  throw new Error('busybox not found: install the Debian package busybox-static');
}

function writeBlob(ociDir: string, data: Buffer): string {
  const hex = sha256(data);
  fs.writeFileSync(path.join(ociDir, 'blobs', 'sha256', hex), data);
  return `sha256:${hex}`;
}

/** Build (once per process) the busybox rootfs tar and its OCI image layout/tarball. */
export function buildTestImage(): TestImage {
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-testimg-'));
  process.on('exit', () => {
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  });

  // --- root filesystem -------------------------------------------------------------------------
  const root = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var', 'run']) {
    fs.mkdirSync(path.join(root, d), { recursive: true });
  }
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  const bb = busyboxPath();
  fs.copyFileSync(bb, path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  const list = execFileSync(bb, ['--list'], { encoding: 'utf8' })
    .split('\n').map((s) => s.trim()).filter((s) => s && s !== 'busybox' && !s.includes('/'));
  for (const applet of list) fs.symlinkSync('busybox', path.join(root, 'bin', applet));
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');

  const rootfsTar = path.join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', root, '--sort=name', '--owner=0', '--group=0', '--numeric-owner',
    '--mtime=@0', '-cf', rootfsTar, '.']);

  // --- OCI image layout --------------------------------------------------------------------------
  const ociDir = path.join(dir, 'oci');
  fs.mkdirSync(path.join(ociDir, 'blobs', 'sha256'), { recursive: true });
  const tarBuf = fs.readFileSync(rootfsTar);
  const layer = gzipSync(tarBuf); // Node's gzip header carries mtime 0: deterministic
  const layerDigest = writeBlob(ociDir, layer);
  const config = Buffer.from(JSON.stringify({
    created: '1970-01-01T00:00:00Z',
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tarBuf)}`] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'ig test harness (busybox-static)' }],
  }));
  const configDigest = writeBlob(ociDir, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
  }));
  const manifestDigest = writeBlob(ociDir, manifest);
  const tag = 'latest';
  fs.writeFileSync(path.join(ociDir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: manifestDigest,
      size: manifest.length,
      annotations: { 'io.containerd.image.name': TEST_IMAGE_NAME, 'org.opencontainers.image.ref.name': tag },
    }],
  }));
  fs.writeFileSync(path.join(ociDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const ociTar = path.join(dir, 'oci.tar');
  execFileSync('tar', ['-C', ociDir, '--sort=name', '--owner=0', '--group=0', '--numeric-owner',
    '--mtime=@0', '-cf', ociTar, 'oci-layout', 'index.json', 'blobs']);

  cached = { dir, rootfsTar, ociDir, ociTar, imageName: TEST_IMAGE_NAME, tag, manifestDigest, configDigest, applets: list };
  return cached;
}
