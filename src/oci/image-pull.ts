// Pull: copy an image index, its manifests and blobs (and its cosign signature, best effort) from a registry into
// the local store in one store transaction.

import { OciError } from './errors.js';
import { isDigest } from './digest.js';
import { ANN_ORIGIN, isIndexType, type Descriptor, type ImageIndex, type Manifest } from './mediatypes.js';
import { formatReference, parseReference, repositoryOf, signatureTag, type ParsedReference } from './reference.js';
import { OciStore, BlobVanishedError, type StoreTxn } from './store.js';
import type { RegistryClient, RegistryOptions } from './registry.js';
import { humanSize, quiet, registryClient, short } from './image-lookup.js';

export interface RemoteOptions extends RegistryOptions {
  store?: string;
  progress?: (line: string) => void;
}

async function fetchManifestTree(
  client: RegistryClient,
  store: OciStore,
  txn: StoreTxn,
  repo: string,
  desc: Descriptor,
  progress: (l: string) => void,
  needs: string[],
): Promise<void> {
  const got = await client.getManifest(repo, desc.digest);
  if (!got) throw new OciError(`manifest ${desc.digest} not found in ${client.host}/${repo}`);
  await txn.stage(got.body, desc.digest);
  needs.push(desc.digest);
  const m = JSON.parse(got.body.toString('utf8')) as Manifest & ImageIndex;
  if (isIndexType(desc.mediaType)) {
    for (const c of m.manifests ?? []) await fetchManifestTree(client, store, txn, repo, c, progress, needs);
    return;
  }
  const blobs = [m.config, ...(m.layers ?? [])].filter((d): d is Descriptor => !!d && isDigest(d.digest));
  for (const b of blobs) {
    needs.push(b.digest);
    if (txn.isStaged(b.digest) || (await store.hasBlob(b.digest))) {
      progress(`Copying blob ${short(b.digest)} skipped: already exists`);
      continue;
    }
    progress(`Copying blob ${short(b.digest)} (${humanSize(b.size)})`);
    const data = await client.getBlob(repo, b.digest, b.size);
    await txn.stage(data, b.digest);
  }
}

/** Fetch the cosign `.sig` for an index digest into the store (nothing happens when there is none). */
export async function pullSignature(store: OciStore, parsed: ParsedReference, digest: string, opts: RemoteOptions): Promise<boolean> {
  const client = await registryClient(parsed.domain, opts);
  const tag = signatureTag(digest);
  const got = await client.getManifest(parsed.path, tag);
  if (!got) return false;
  const txn = store.begin();
  try {
    await txn.stage(got.body);
    const m = JSON.parse(got.body.toString('utf8')) as Manifest;
    const needs = [got.digest];
    for (const b of [m.config, ...(m.layers ?? [])]) {
      if (!b || !isDigest(b.digest)) continue;
      needs.push(b.digest);
      if (!(await store.hasBlob(b.digest))) await txn.stage(await client.getBlob(parsed.path, b.digest, b.size), b.digest);
    }
    await txn.commit((idx) => {
      OciStore.setTag(idx, `${repositoryOf(parsed)}:${tag}`, { mediaType: got.mediaType || 'application/vnd.oci.image.manifest.v1+json', digest: got.digest, size: got.body.length });
    }, needs);
  } finally {
    await txn.discardStaged();
  }
  (opts.progress ?? quiet)(`Copied signature ${tag}`);
  return true;
}

export async function pullImage(ref: string, opts: RemoteOptions = {}): Promise<{ reference: string; digest: string }> {
  try {
    return await pullOnce(ref, opts);
  } catch (err) {
    if (!(err instanceof BlobVanishedError)) throw err;
    return pullOnce(ref, opts); // a concurrent remove collected a blob we meant to reuse: fetch again
  }
}

async function pullOnce(ref: string, opts: RemoteOptions): Promise<{ reference: string; digest: string }> {
  const progress = opts.progress ?? quiet;
  const store = new OciStore(opts.store);
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const client = await registryClient(parsed.domain, opts);
  progress(`Pulling ${name}`);
  const top = await client.getManifest(parsed.path, parsed.digest ?? parsed.tag ?? 'latest');
  if (!top) throw new OciError(`image "${ref}": not found in registry ${parsed.domain}`);
  if (!isIndexType(top.mediaType)) throw new OciError(`image "${ref}" is not an image index (media type ${top.mediaType || 'unknown'}); gadget images are OCI indexes`);
  const indexDesc: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.body.length };
  const index = JSON.parse(top.body.toString('utf8')) as ImageIndex;
  await store.init();
  const txn = store.begin();
  try {
    await txn.stage(top.body, top.digest);
    const needs: string[] = [top.digest];
    for (const m of index.manifests ?? []) {
      progress(`Copying manifest ${short(m.digest)}${m.platform ? ` (${m.platform.os}/${m.platform.architecture})` : ''}`);
      await fetchManifestTree(client, store, txn, parsed.path, m, progress, needs);
    }
    const tagRef = parsed.tag ? `${repositoryOf(parsed)}:${parsed.tag}` : `${repositoryOf(parsed)}@${top.digest}`;
    if (parsed.digest && parsed.digest !== top.digest) throw new OciError(`image "${ref}": registry returned digest ${top.digest}`);
    await txn.commit((idx) => {
      OciStore.setTag(idx, tagRef, { ...indexDesc, annotations: index.annotations }, { [ANN_ORIGIN]: 'pulled' });
    }, needs);
  } finally {
    await txn.discardStaged();
  }
  // best effort: signing information
  try {
    await pullSignature(store, parsed, top.digest, opts);
  } catch (err) {
    progress(`warning: could not fetch the signature of ${name}: ${(err as Error).message}`);
  }
  progress(`Pulled ${name}@${top.digest}`);
  return { reference: name, digest: top.digest };
}
