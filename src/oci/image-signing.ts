// Cosign signatures of images in the local store: verify (fetching a missing signature from the registry) and sign.

import { OciError } from './errors.js';
import { INSPEKTOR_GADGET_PUBLIC_KEY } from './default-key.js';
import type { KeyObject } from 'node:crypto';
import { MT_COSIGN_ARTIFACT_SIG, MT_SIGSTORE_BUNDLE_V03, type Descriptor, type ImageIndex, type Manifest } from './mediatypes.js';
import { formatReference, repositoryOf, signatureTag, type ParsedReference } from './reference.js';
import { OciStore } from './store.js';
import { findReferrers, findSignature, mustResolve, quiet, signatureModule } from './image-lookup.js';
import { pullSigningInformation } from './image-pull.js';
import type { GetImageOptions } from './image-load.js';

export async function verifyStoredImage(store: OciStore, image: string, parsed: ParsedReference, digest: string, opts: GetImageOptions): Promise<void> {
  const { loadPublicKeys } = await signatureModule();
  // Without --public-keys, the Inspektor Gadget project's key (as upstream's ig embeds it).
  const given = (opts.publicKeys ?? []).filter((k) => k.trim());
  const keys = await loadPublicKeys(given.length ? given : [INSPEKTOR_GADGET_PUBLIC_KEY]);
  if (!keys.length) {
    throw new OciError(`image "${image}": cannot verify its signature: no public key given (use --public-keys, or --verify-image=false to skip verification)`);
  }
  const repo = repositoryOf(parsed);
  let sig = await findSignature(store, repo, digest);
  let refs = await findReferrers(store, repo, digest);
  if (!sig && !refs && !opts.disallowPulling && opts.pull !== 'never') {
    try {
      await pullSigningInformation(store, parsed, digest, { ...opts });
    } catch (err) {
      (opts.progress ?? quiet)(`warning: fetching the signature of ${formatReference(parsed)} failed: ${(err as Error).message}`);
    }
    sig = await findSignature(store, repo, digest);
    refs = await findReferrers(store, repo, digest);
  }
  if (!sig && !refs) {
    throw new OciError(`image "${image}" is not signed (no ${signatureTag(digest)} signature and no signing referrer found); refusing to use it (pass --verify-image=false to skip verification)`);
  }
  // Like upstream: any one signature, in any supported format, that one of the keys verifies is enough.
  const failures: OciError[] = [];
  const attempt = async (check: () => Promise<void>): Promise<boolean> => {
    try {
      await check();
      return true;
    } catch (err) {
      if (!(err instanceof OciError)) throw err;
      failures.push(err);
      return false;
    }
  };
  if (sig && (await attempt(() => verifyLegacy(store, image, sig!.descriptor.digest, digest, keys)))) return;
  if (refs) {
    const index = await store.readJson<ImageIndex>(refs.descriptor.digest, `signing referrers of image "${image}"`);
    for (const d of index.manifests ?? []) {
      if (await attempt(() => verifyReferrer(store, image, d, digest, keys))) return;
    }
  }
  throw failures[0] ?? new OciError(`image "${image}": no usable signature found`);
}

/** The legacy `.sig` tag: a manifest of simple-signing layers. */
async function verifyLegacy(store: OciStore, image: string, sigDigest: string, digest: string, keys: KeyObject[]): Promise<void> {
  const { verifySignatureManifest } = await signatureModule();
  const manifest = await store.readJson<Manifest>(sigDigest, `signature of image "${image}"`);
  await verifySignatureManifest(image, manifest, digest, keys, (d) => store.readBlob(d, `signature payload of image "${image}"`));
}

/** One OCI 1.1 referrer: cosign simple-signing manifest or sigstore bundle, whose subject must be the image. */
async function verifyReferrer(store: OciStore, image: string, d: Descriptor, digest: string, keys: KeyObject[]): Promise<void> {
  const manifest = await store.readJson<Manifest>(d.digest, `signing referrer of image "${image}"`);
  if (manifest.subject?.digest !== digest) {
    throw new OciError(`image "${image}": signing referrer ${d.digest} is attached to ${manifest.subject?.digest ?? 'no image'}, not to ${digest}`);
  }
  const type = manifest.artifactType ?? manifest.config?.mediaType ?? d.artifactType;
  if (type === MT_COSIGN_ARTIFACT_SIG) {
    const { verifySignatureManifest } = await signatureModule();
    await verifySignatureManifest(image, manifest, digest, keys, (b) => store.readBlob(b, `signature payload of image "${image}"`));
    return;
  }
  const layer = (manifest.layers ?? []).find((l) => l.mediaType === MT_SIGSTORE_BUNDLE_V03);
  if (!layer) throw new OciError(`image "${image}": signing referrer ${d.digest} holds neither a cosign signature nor a sigstore bundle`);
  const { verifyDsseBundle, statementSubjectDigests } = await import('./sigstore-verify.js');
  const res = verifyDsseBundle(await store.readBlob(layer.digest, `sigstore bundle of image "${image}"`), keys);
  if (!res.ok) {
    const what = res.reason === 'no given public key matches the signature' ? `signature verification failed: ${res.reason}` : `its sigstore bundle is unusable: ${res.reason}`;
    throw new OciError(`image "${image}": ${what}`);
  }
  if (!statementSubjectDigests(res.payload).includes(digest)) {
    throw new OciError(`image "${image}": the signature was made for a different digest than ${digest}`);
  }
}

/** `ig image verify`: check the stored signature of an image against the given public keys. */
export async function verifyImage(ref: string, opts: GetImageOptions = {}): Promise<{ reference: string; digest: string }> {
  const store = new OciStore(opts.store);
  const { parsed, name, entry } = await mustResolve(store, ref);
  await verifyStoredImage(store, ref, parsed, entry.descriptor.digest, { ...opts, pull: opts.pull ?? 'missing' });
  return { reference: name, digest: entry.descriptor.digest };
}

/** `ig image sign --key`: add a cosign signature for the image's index digest to the local store. */
export async function signImage(ref: string, keyFile: string, opts: { store?: string; passphrase?: string } = {}): Promise<{ reference: string; digest: string; signatureTag: string }> {
  const store = new OciStore(opts.store);
  const { parsed, name, entry } = await mustResolve(store, ref);
  const { buildSignatureManifest, loadPrivateKey, makePayload, signPayload } = await signatureModule();
  const key = await loadPrivateKey(keyFile, opts.passphrase);
  const digest = entry.descriptor.digest;
  const repo = repositoryOf(parsed);
  const payload = makePayload(repo, digest);
  const signature = signPayload(payload, key);
  const layers: { payload: Buffer; signature: string }[] = [];
  // keep signatures already there (cosign appends)
  const existing = await findSignature(store, repo, digest);
  if (existing) {
    const m = await store.readJson<Manifest>(existing.descriptor.digest, 'signature manifest');
    for (const l of m.layers ?? []) {
      const s = l.annotations?.['dev.cosignproject.cosign/signature'];
      if (!s) continue;
      const p = await store.readBlob(l.digest, 'signature payload');
      if (p.equals(payload) && s === signature) continue;
      layers.push({ payload: p, signature: s });
    }
  }
  layers.push({ payload, signature });
  const art = buildSignatureManifest(layers);
  const txn = store.begin();
  for (const b of art.blobs) await txn.stage(b);
  await txn.stage(art.manifest);
  const tagRef = `${repo}:${signatureTag(digest)}`;
  await txn.commit((idx) => {
    OciStore.setTag(idx, tagRef, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: art.manifestDigest, size: art.manifest.length });
  });
  return { reference: name, digest, signatureTag: tagRef };
}
