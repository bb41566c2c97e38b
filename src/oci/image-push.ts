// Push: copy an image from the local store (blobs, manifests, index, then its signature) to a registry.

import { promises as fsp } from 'node:fs';
import { OciError } from './errors.js';
import { isDigest } from './digest.js';
import { isIndexType, type Descriptor, type ImageIndex, type Manifest } from './mediatypes.js';
import { referrersTag, repositoryOf, signatureTag } from './reference.js';
import { OciStore } from './store.js';
import type { RegistryClient } from './registry.js';
import { findReferrers, findSignature, humanSize, mustResolve, quiet, registryClient, short } from './image-lookup.js';
import type { RemoteOptions } from './image-pull.js';

async function pushTree(client: RegistryClient, store: OciStore, repo: string, desc: Descriptor, progress: (l: string) => void, done: Set<string>): Promise<void> {
  if (done.has(desc.digest)) return;
  const body = await store.readBlob(desc.digest, 'manifest');
  const m = JSON.parse(body.toString('utf8')) as Manifest & ImageIndex;
  if (isIndexType(desc.mediaType)) {
    for (const c of m.manifests ?? []) await pushTree(client, store, repo, c, progress, done);
  } else {
    for (const b of [m.config, ...(m.layers ?? [])]) {
      if (!b || !isDigest(b.digest) || done.has(b.digest)) continue;
      if (await client.hasBlob(repo, b.digest)) {
        progress(`Copying blob ${short(b.digest)} skipped: already exists`);
      } else {
        progress(`Copying blob ${short(b.digest)} (${humanSize(b.size)})`);
        // streamed from the store's file: the registry checks the digest of what it receives (PUT ?digest=)
        const file = store.blobPath(b.digest);
        const size = (await fsp.stat(file).catch(() => undefined))?.size;
        if (size === undefined) throw new OciError(`blob ${b.digest} is missing from the store ${store.root}`);
        await client.putBlob(repo, b.digest, { file, size });
      }
      done.add(b.digest);
    }
  }
  done.add(desc.digest);
}

export async function pushImage(ref: string, opts: RemoteOptions = {}): Promise<{ reference: string; digest: string }> {
  const progress = opts.progress ?? quiet;
  const store = new OciStore(opts.store);
  const { parsed, name, entry } = await mustResolve(store, ref);
  const client = await registryClient(parsed.domain, opts);
  const desc = entry.descriptor;
  progress(`Pushing ${name}`);
  const idxBody = await store.readBlob(desc.digest, 'index');
  const index = JSON.parse(idxBody.toString('utf8')) as ImageIndex;
  const done = new Set<string>();
  for (const m of index.manifests ?? []) {
    await pushTree(client, store, parsed.path, m, progress, done);
    progress(`Copying manifest ${short(m.digest)}${m.platform ? ` (${m.platform.os}/${m.platform.architecture})` : ''}`);
    await client.putManifest(parsed.path, m.digest, m.mediaType, await store.readBlob(m.digest));
  }
  progress(`Writing index ${short(desc.digest)}`);
  await client.putManifest(parsed.path, parsed.tag ?? desc.digest, desc.mediaType, idxBody);
  const sig = await findSignature(store, repositoryOf(parsed), desc.digest);
  if (sig) {
    await pushTree(client, store, parsed.path, sig.descriptor, progress, done);
    await client.putManifest(parsed.path, signatureTag(desc.digest), sig.descriptor.mediaType, await store.readBlob(sig.descriptor.digest));
    progress(`Copied signature ${signatureTag(desc.digest)}`);
  }
  const refs = await findReferrers(store, repositoryOf(parsed), desc.digest);
  if (refs) {
    // Each referrer by digest (a registry with the referrers API indexes them by their subject), then the
    // referrers tag schema index for registries without that API.
    const list = JSON.parse((await store.readBlob(refs.descriptor.digest)).toString('utf8')) as ImageIndex;
    for (const m of list.manifests ?? []) {
      await pushTree(client, store, parsed.path, m, progress, done);
      await client.putManifest(parsed.path, m.digest, m.mediaType, await store.readBlob(m.digest));
    }
    await client.putManifest(parsed.path, referrersTag(desc.digest), refs.descriptor.mediaType, await store.readBlob(refs.descriptor.digest));
    progress(`Copied signing referrers ${referrersTag(desc.digest)}`);
  }
  progress(`Pushed ${name}@${desc.digest}`);
  return { reference: name, digest: desc.digest };
}
