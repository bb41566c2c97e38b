// Reading images already in the local store: resolve a reference, read its index, pick the manifest for an
// architecture, find its cosign signature; plus the shared progress-line helpers of the image commands.

import { OciError } from './errors.js';
import { ANN_ORIGIN, ANN_REF_NAME, isIndexType, type Descriptor, type ImageIndex } from './mediatypes.js';
import { formatReference, parseReference, referrersTag, signatureTag, type ParsedReference } from './reference.js';
import type { OciStore, StoreEntry } from './store.js';
import type { RegistryClient, RegistryOptions } from './registry.js';

// Registry (http/https/tls), tar (zlib) and signature (crypto keys) code is only needed by the commands that
// talk to a registry, sign, verify, export or import: `ig run` of a local image never loads it (less start-up
// memory and time).
export const registryClient = async (domain: string, opts: RegistryOptions): Promise<RegistryClient> =>
  new (await import('./registry.js')).RegistryClient(domain, opts);
export const tarModule = () => import('./tar.js');
export const signatureModule = () => import('./signature.js');

export function quiet(): void {}

export function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The 12 hex digits a progress line shows for a digest. */
export function short(d: string): string {
  return d.slice(7, 19);
}

/** A descriptor's annotations without the store's own (reference name, origin). */
export function imageAnnotations(desc: Descriptor): Record<string, string> {
  const a = { ...(desc.annotations ?? {}) };
  delete a[ANN_REF_NAME];
  delete a[ANN_ORIGIN];
  return a;
}

export async function mustResolve(store: OciStore, ref: string): Promise<{ parsed: ParsedReference; name: string; entry: StoreEntry }> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const entry = await store.resolve(parsed);
  if (!entry) throw new OciError(`image "${ref}": not found in the local store (${store.root})`);
  return { parsed, name, entry };
}

export async function readIndexBlob(store: OciStore, image: string, desc: Descriptor): Promise<ImageIndex> {
  if (!isIndexType(desc.mediaType)) throw new OciError(`image "${image}" is not an image index (media type ${desc.mediaType})`);
  const idx = await store.readJson<ImageIndex>(desc.digest, `index of image "${image}"`);
  if (!Array.isArray(idx.manifests)) throw new OciError(`image "${image}" is not an image index`);
  return idx;
}

export function pickManifest(image: string, idx: ImageIndex, arch: string): Descriptor {
  const m = idx.manifests.find((d) => d.platform?.architecture === arch);
  if (!m) {
    const have = idx.manifests.map((d) => d.platform?.architecture).filter(Boolean).join(', ') || 'none';
    throw new OciError(`image "${image}" has no manifest for architecture ${arch} (has: ${have})`);
  }
  return m;
}


/** The cosign signature of `digest` stored for this repository (signatures are per repository). */
export async function findSignature(store: OciStore, repo: string, digest: string): Promise<StoreEntry | undefined> {
  return findByDigestTag(store, repo, signatureTag(digest));
}

/** The local index of signing referrers (OCI 1.1 / sigstore bundles) pulled for an index digest. */
export async function findReferrers(store: OciStore, repo: string, digest: string): Promise<StoreEntry | undefined> {
  return findByDigestTag(store, repo, referrersTag(digest));
}

/**
 * Signing information is named after the digest it signs and kept per repository, as registries keep it: the same
 * digest under another name is not signed by it.
 */
async function findByDigestTag(store: OciStore, repo: string, tag: string): Promise<StoreEntry | undefined> {
  const entries = await store.entries();
  return entries.find((e) => e.ref === `${repo}:${tag}`);
}
