// `ig run`'s view of an image: resolve (pulling by policy), check the allow-list and signature, then load the
// metadata and layers for this machine's architecture.

import { OciError } from './errors.js';
import { MAX_METADATA_BYTES, mib } from './limits.js';
import { EMPTY_DIGEST, MT_BTFGEN, MT_EBPF, MT_EMPTY, MT_WASM, goArch, isManifestType, type Manifest } from './mediatypes.js';
import { formatReference, parseReference, repositoryOf } from './reference.js';
import { OciStore, originOf, type ImageOrigin, type StoreEntry } from './store.js';
import { pickManifest, readIndexBlob } from './image-lookup.js';
import { pullImage } from './image-pull.js';
import { verifyStoredImage } from './image-signing.js';

export interface GadgetImage {
  reference: string;
  digest: string;
  manifestDigest: string;
  metadata: Buffer | null;
  ebpf: Buffer | null;
  wasm: Buffer | null;
  btfgen: Buffer | null;
  /** Every layer of the manifest, in order (image operators are chosen by media type). */
  layers: { mediaType: string; digest: string; data: Buffer }[];
  annotations: Record<string, string>;
  origin: ImageOrigin;
}

export interface GetImageOptions {
  store?: string;
  pull?: 'always' | 'missing' | 'never';
  disallowPulling?: boolean;
  verifyImage?: boolean;
  publicKeys?: string[];
  allowedGadgets?: string[];
  insecureRegistries?: string[];
  authFile?: string;
  progress?: (line: string) => void;
  /** directory holding the registry's CA certificate(s) (*.crt), like skopeo's --cert-dir */
  certDir?: string;
  /** architecture to load (default: this machine's) */
  arch?: string;
}

/** Check `--allowed-gadgets`: exact normalised name:tag or name@digest, or a prefix ending in `*`. */
export function isGadgetAllowed(name: string, repo: string, digest: string, allowed: string[] | undefined): boolean {
  const list = (allowed ?? []).map((s) => s.trim()).filter(Boolean);
  if (!list.length) return true;
  const candidates = [name, `${repo}@${digest}`];
  for (const a of list) {
    if (a.endsWith('*')) {
      const prefix = a.slice(0, -1);
      if (candidates.some((c) => c.startsWith(prefix))) return true;
      continue;
    }
    let norm: string;
    try {
      norm = formatReference(parseReference(a));
    } catch {
      norm = a;
    }
    if (candidates.includes(norm) || candidates.includes(a)) return true;
  }
  return false;
}

export async function getGadgetImage(ref: string, opts: GetImageOptions = {}): Promise<GadgetImage> {
  const store = new OciStore(opts.store);
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const policy = opts.pull ?? 'missing';
  if (!['always', 'missing', 'never'].includes(policy)) throw new OciError(`invalid pull policy "${policy}" (use always, missing or never)`);
  let entry = await store.resolve(parsed);
  const wantPull = policy === 'always' || (policy === 'missing' && !entry);
  if (wantPull) {
    if (opts.disallowPulling) {
      if (!entry) throw new OciError(`image "${ref}": not found in the local store (${store.root}) and pulling is disabled`);
      throw new OciError(`image "${ref}": the pull policy is "always" but pulling is disabled`);
    }
    try {
      await pullImage(ref, { ...opts, store: store.root });
    } catch (e) {
      // The usual case is a typo or an image that only exists elsewhere: say it was not found locally first.
      if (entry) throw e;
      const why = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/^Error:\s*/, '');
      throw new OciError(`image "${ref}": not found in the local store (${store.root}), and pulling ${name} failed: ${why}`);
    }
    entry = await store.resolve(parsed);
  }
  if (!entry) {
    throw new OciError(`image "${ref}": not found in the local store (${store.root})${policy === 'never' ? ' and the pull policy is "never"' : ''}`);
  }
  const digest = entry.descriptor.digest;
  const repo = repositoryOf(parsed);
  if (!isGadgetAllowed(name, repo, digest, opts.allowedGadgets)) {
    throw new OciError(`image "${ref}" (${name}@${digest}) is not in the allowed gadgets list`);
  }
  const origin = originOf(entry.descriptor);
  if (opts.verifyImage !== false && origin !== 'built' && origin !== 'imported') {
    await verifyStoredImage(store, ref, parsed, digest, opts);
  }
  return loadImage(store, ref, entry, opts.arch ?? goArch(), name);
}

async function loadImage(store: OciStore, image: string, entry: StoreEntry, arch: string, name: string): Promise<GadgetImage> {
  const idx = await readIndexBlob(store, image, entry.descriptor);
  const mdesc = pickManifest(image, idx, arch);
  if (!isManifestType(mdesc.mediaType)) throw new OciError(`image "${image}": manifest ${mdesc.digest} has unexpected media type ${mdesc.mediaType}`);
  const manifest = await store.readJson<Manifest>(mdesc.digest, `manifest of image "${image}"`);
  let metadata: Buffer | null = null;
  if (manifest.config && manifest.config.mediaType !== MT_EMPTY && manifest.config.digest !== EMPTY_DIGEST) {
    // checked before reading: a huge gadget.yaml would cost memory and parse time before anything can fail
    if (manifest.config.size > MAX_METADATA_BYTES) {
      throw new OciError(`image "${image}": its gadget.yaml is ${manifest.config.size} bytes, more than the ${mib(MAX_METADATA_BYTES)} limit`);
    }
    metadata = await store.readBlob(manifest.config.digest, `metadata of image "${image}"`);
  }
  const layers: GadgetImage['layers'] = [];
  for (const d of manifest.layers ?? []) layers.push({ mediaType: d.mediaType, digest: d.digest, data: await store.readBlob(d.digest, `layer of image "${image}"`) });
  const layer = (mt: string): Buffer | null => layers.find((l) => l.mediaType === mt)?.data ?? null;
  return {
    reference: name,
    digest: entry.descriptor.digest,
    manifestDigest: mdesc.digest,
    metadata,
    ebpf: layer(MT_EBPF),
    wasm: layer(MT_WASM),
    btfgen: layer(MT_BTFGEN),
    layers,
    annotations: { ...(manifest.annotations ?? {}), ...(idx.annotations ?? {}) },
    origin: originOf(entry.descriptor),
  };
}
