// Cosign signatures of images in the local store: verify (fetching a missing signature from the registry) and sign.

import { OciError } from './errors.js';
import { INSPEKTOR_GADGET_PUBLIC_KEY } from './default-key.js';
import type { Manifest } from './mediatypes.js';
import { formatReference, repositoryOf, signatureTag, type ParsedReference } from './reference.js';
import { OciStore } from './store.js';
import { findSignature, mustResolve, quiet, signatureModule } from './image-lookup.js';
import { pullSignature } from './image-pull.js';
import type { GetImageOptions } from './image-load.js';

export async function verifyStoredImage(store: OciStore, image: string, parsed: ParsedReference, digest: string, opts: GetImageOptions): Promise<void> {
  const { loadPublicKeys, verifySignatureManifest } = await signatureModule();
  // Without --public-keys, the Inspektor Gadget project's key (as upstream's ig embeds it).
  const given = (opts.publicKeys ?? []).filter((k) => k.trim());
  const keys = await loadPublicKeys(given.length ? given : [INSPEKTOR_GADGET_PUBLIC_KEY]);
  if (!keys.length) {
    throw new OciError(`image "${image}": cannot verify its signature: no public key given (use --public-keys, or --verify-image=false to skip verification)`);
  }
  const repo = repositoryOf(parsed);
  let sig = await findSignature(store, repo, digest);
  if (!sig && !opts.disallowPulling && opts.pull !== 'never') {
    try {
      await pullSignature(store, parsed, digest, { ...opts });
    } catch (err) {
      (opts.progress ?? quiet)(`warning: fetching the signature of ${formatReference(parsed)} failed: ${(err as Error).message}`);
    }
    sig = await findSignature(store, repo, digest);
  }
  if (!sig) {
    throw new OciError(`image "${image}" is not signed (no ${signatureTag(digest)} signature found); refusing to use it (pass --verify-image=false to skip verification)`);
  }
  const manifest = await store.readJson<Manifest>(sig.descriptor.digest, `signature of image "${image}"`);
  await verifySignatureManifest(image, manifest, digest, keys, (d) => store.readBlob(d, `signature payload of image "${image}"`));
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
