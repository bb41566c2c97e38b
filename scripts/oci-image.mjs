#!/usr/bin/env node
// Pack a root file system tar into an OCI image layout (used by scripts/build-image.sh): one gzip layer, an image
// config (os/architecture, entrypoint, env), a manifest, and an image index whose manifest entry carries the
// platform, so that images of other architectures can be added to the same index later. Deterministic for equal inputs.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Transform } from 'node:stream';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({ options: {
  rootfs: { type: 'string' }, out: { type: 'string' }, arch: { type: 'string' }, tag: { type: 'string' }, name: { type: 'string' }, created: { type: 'string' },
} });
for (const k of ['rootfs', 'out', 'arch', 'tag', 'name']) if (!o[k]) { console.error(`oci-image: --${k} is required`); process.exit(1); }

const blobs = join(o.out, 'blobs', 'sha256');
mkdirSync(blobs, { recursive: true });
const created = new Date(Number(o.created || 0) * 1000).toISOString();

function hashing(h) {
  return new Transform({ transform(chunk, _e, cb) { h.update(chunk); cb(null, chunk); } });
}

// The layer: diff_id is the digest of the uncompressed tar, the blob's digest that of the gzip stream.
const diff = createHash('sha256');
const comp = createHash('sha256');
const tmp = join(blobs, 'layer.tmp');
// mtime 0 in the gzip header: the same tar gives the same blob.
await pipeline(createReadStream(o.rootfs), hashing(diff), createGzip({ level: 6 }), hashing(comp), createWriteStream(tmp));
const layerDigest = comp.digest('hex');
renameSync(tmp, join(blobs, layerDigest));
const layerSize = statSync(join(blobs, layerDigest)).size;

function blob(obj) {
  const bytes = Buffer.from(JSON.stringify(obj));
  const d = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(blobs, d), bytes);
  return { digest: `sha256:${d}`, size: bytes.length };
}

const config = blob({
  created,
  architecture: o.arch,
  os: 'linux',
  config: {
    Entrypoint: ['/usr/bin/node', '/usr/lib/ig/dist/src/cli/main.js'],
    Cmd: ['daemon', '--host', 'tcp://127.0.0.1:8080', '--tls-insecure'],
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'IG_OCI_STORE=/var/lib/ig/oci-store'],
    WorkingDir: '/',
    Labels: { 'org.opencontainers.image.title': 'ig', 'org.opencontainers.image.version': o.tag },
  },
  rootfs: { type: 'layers', diff_ids: [`sha256:${diff.digest('hex')}`] },
  history: [{ created, created_by: 'scripts/build-image.sh (mmdebstrap bookworm + ig)' }],
});
const manifest = blob({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layerDigest}`, size: layerSize }],
  annotations: { 'org.opencontainers.image.created': created },
});
// The image index (a blob, so that it travels to registries as the image's multi-platform list; another
// architecture's manifest joins its `manifests`), named by the layout's index.json under the tag.
const index = blob({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { architecture: o.arch, os: 'linux' } }],
});
writeFileSync(join(o.out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
writeFileSync(join(o.out, 'index.json'), JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [{
    mediaType: 'application/vnd.oci.image.index.v1+json', ...index,
    annotations: { 'org.opencontainers.image.ref.name': o.tag, 'io.containerd.image.name': o.name },
  }],
}, null, 2));
