// Pull: copy an image index, its manifests and blobs (and its cosign signature, best effort) from a registry into
// the local store in one store transaction.

import { OciError } from './errors.js';
import { parseIndex, parseManifest } from './descriptor.js';
import { MAX_INDEX_DEPTH } from './limits.js';
import { ANN_ORIGIN, MT_INDEX, SIGNING_ARTIFACT_TYPES, isIndexType, type Descriptor, type ImageIndex } from './mediatypes.js';
import { sha256 } from './digest.js';
import { formatReference, parseReference, referrersTag, repositoryOf, signatureTag, type ParsedReference } from './reference.js';
import { OciStore, BlobVanishedError, type StoreTxn } from './store.js';
import type { RegistryClient, RegistryOptions } from './registry.js';
import { humanSize, quiet, registryClient, short } from './image-lookup.js';

export interface RemoteOptions extends RegistryOptions {
  store?: string;
  progress?: (line: string) => void;
}

/** Where an image's manifests and blobs come from, and where they go. */
interface PullTarget {
  client: RegistryClient;
  store: OciStore;
  txn: StoreTxn;
  repo: string;
  progress: (l: string) => void;
  /** every digest the committed image needs */
  needs: string[];
}

/** Stream the blob into the store's ingest/, checking size and digest while it arrives. */
async function fetchBlob(t: PullTarget, b: Descriptor): Promise<void> {
  t.needs.push(b.digest);
  if (t.txn.isStaged(b.digest) || (await t.store.hasBlob(b.digest))) {
    t.progress(`Copying blob ${short(b.digest)} skipped: already exists`);
    return;
  }
  t.progress(`Copying blob ${short(b.digest)} (${humanSize(b.size)})`);
  const res = await t.client.openBlob(t.repo, b.digest, b.size);
  await t.txn.stageStream(res.stream, b.digest, b.size, `blob ${b.digest} from ${t.client.host}/${t.repo}`);
}

/** A manifest (or nested index, at most MAX_INDEX_DEPTH deep) with everything it references. */
async function fetchManifestTree(t: PullTarget, desc: Descriptor, depth: number): Promise<void> {
  const where = `manifest ${desc.digest} of ${t.client.host}/${t.repo}`;
  if (depth > MAX_INDEX_DEPTH) throw new OciError(`${where}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
  const got = await t.client.getManifest(t.repo, desc.digest, false, desc.size);
  if (!got) throw new OciError(`manifest ${desc.digest} not found in ${t.client.host}/${t.repo}`);
  await t.txn.stage(got.body, desc.digest);
  t.needs.push(desc.digest);
  if (isIndexType(desc.mediaType)) {
    for (const c of parseIndex(got.body, where).manifests) await fetchManifestTree(t, c, depth + 1);
    return;
  }
  const m = parseManifest(got.body, where);
  for (const b of [m.config, ...(m.layers ?? [])]) if (b) await fetchBlob(t, b);
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
    const m = parseManifest(got.body, `signature ${tag} of ${client.host}/${parsed.path}`);
    const needs = [got.digest];
    const t: PullTarget = { client, store, txn, repo: parsed.path, progress: quiet, needs };
    for (const b of [m.config, ...(m.layers ?? [])]) if (b) await fetchBlob(t, b);
    await txn.commit((idx) => {
      OciStore.setTag(idx, `${repositoryOf(parsed)}:${tag}`, { mediaType: got.mediaType || 'application/vnd.oci.image.manifest.v1+json', digest: got.digest, size: got.body.length });
    }, needs);
  } finally {
    await txn.discardStaged();
  }
  (opts.progress ?? quiet)(`Copied signature ${tag}`);
  return true;
}

/**
 * Fetch the OCI 1.1 signing referrers of an index digest (cosign simple-signing manifests and sigstore bundles):
 * from the referrers API, else from the referrers tag schema. They are kept under the local tag
 * `<repo>:sha256-<hex>` as an index of just those manifests. Returns false when there are none.
 */
export async function pullReferrers(store: OciStore, parsed: ParsedReference, digest: string, opts: RemoteOptions): Promise<boolean> {
  const client = await registryClient(parsed.domain, opts);
  const where = `referrers of ${client.host}/${parsed.path}@${digest}`;
  let body = await client.getReferrers(parsed.path, digest);
  if (!body) body = (await client.getManifest(parsed.path, referrersTag(digest)))?.body;
  if (!body) return false;
  const listed = parseIndex(body, where).manifests;
  const txn = store.begin();
  try {
    const needs: string[] = [];
    const t: PullTarget = { client, store, txn, repo: parsed.path, progress: quiet, needs };
    const kept: Descriptor[] = [];
    for (const d of listed) {
      // The listing's artifactType is only a hint (it may be missing, and cosign's bundle referrers have been
      // listed as "application/vnd.oci.empty.v1+json"): the manifest itself says what it is.
      let type = d.artifactType;
      if (!type || !SIGNING_ARTIFACT_TYPES.includes(type)) {
        const got = await client.getManifest(parsed.path, d.digest, false, d.size);
        const m = got ? parseManifest(got.body, `referrer ${d.digest} of ${client.host}/${parsed.path}`) : undefined;
        type = m?.artifactType ?? m?.config?.mediaType;
      }
      if (!type || !SIGNING_ARTIFACT_TYPES.includes(type)) continue;
      await fetchManifestTree(t, d, 1);
      kept.push({ ...d, artifactType: type });
    }
    if (!kept.length) return false;
    const local: ImageIndex = { schemaVersion: 2, mediaType: MT_INDEX, manifests: kept };
    const localBody = Buffer.from(JSON.stringify(local));
    await txn.stage(localBody);
    needs.push(sha256(localBody));
    await txn.commit((idx) => {
      OciStore.setTag(idx, `${repositoryOf(parsed)}:${referrersTag(digest)}`, { mediaType: MT_INDEX, digest: sha256(localBody), size: localBody.length });
    }, needs);
  } finally {
    await txn.discardStaged();
  }
  (opts.progress ?? quiet)(`Copied signing referrers ${referrersTag(digest)}`);
  return true;
}

/** Every kind of signing information for an index digest; errors only when nothing could be fetched. */
export async function pullSigningInformation(store: OciStore, parsed: ParsedReference, digest: string, opts: RemoteOptions): Promise<boolean> {
  const errors: string[] = [];
  let found = false;
  for (const pull of [pullSignature, pullReferrers]) {
    try {
      found = (await pull(store, parsed, digest, opts)) || found;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (!found && errors.length) throw new OciError(errors.join('; '));
  return found;
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
  // every descriptor is checked (digest form, size caps) before any of them is used in a URL or a path
  const index = parseIndex(top.body, `index of image "${ref}"`);
  await store.init();
  const txn = store.begin();
  try {
    await txn.stage(top.body, top.digest);
    const needs: string[] = [top.digest];
    const t: PullTarget = { client, store, txn, repo: parsed.path, progress, needs };
    for (const m of index.manifests) {
      progress(`Copying manifest ${short(m.digest)}${m.platform ? ` (${m.platform.os}/${m.platform.architecture})` : ''}`);
      await fetchManifestTree(t, m, 1);
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
    await pullSigningInformation(store, parsed, top.digest, opts);
  } catch (err) {
    progress(`warning: could not fetch the signature of ${name}: ${(err as Error).message}`);
  }
  progress(`Pulled ${name}@${top.digest}`);
  return { reference: name, digest: top.digest };
}
