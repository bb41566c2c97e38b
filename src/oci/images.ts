// Image operations on the local store and registries: resolve/get, pull, push, tag, remove, list, inspect,
// export, import, sign, verify.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OciError } from './errors.js';
import { sha256, isDigest } from './digest.js';
import {
  ANN_CREATED, ANN_ORIGIN, ANN_REF_NAME, EMPTY_DIGEST, MT_BTFGEN, MT_EBPF, MT_EMPTY, MT_WASM, type Descriptor,
  type ImageIndex, type Manifest, goArch, isIndexType, isManifestType,
} from './mediatypes.js';
import {
  displayRepository, formatReference, isSignatureTag, parseQualified, parseReference, repositoryOf, signatureTag,
  type ParsedReference,
} from './reference.js';
import { OciStore, BlobVanishedError, originOf, sortKeys, type ImageOrigin, type StoreEntry, type StoreTxn } from './store.js';
import type { RegistryClient, RegistryOptions } from './registry.js';
import type { TarFile } from './tar.js';

// Registry (http/https/tls), tar (zlib) and signature (crypto keys) code is only needed by the commands that
// talk to a registry, sign, verify, export or import: `ig run` of a local image never loads it (less start-up
// memory and time).
const registryClient = async (domain: string, opts: RegistryOptions): Promise<RegistryClient> =>
  new (await import('./registry.js')).RegistryClient(domain, opts);
const tarModule = () => import('./tar.js');
const signatureModule = () => import('./signature.js');

export interface GadgetImage {
  reference: string;
  digest: string;
  manifestDigest: string;
  metadata: Buffer | null;
  ebpf: Buffer | null;
  wasm: Buffer | null;
  btfgen: Buffer | null;
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

export interface RemoteOptions extends RegistryOptions {
  store?: string;
  progress?: (line: string) => void;
}

function quiet(): void {}

function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function short(d: string): string {
  return d.slice(7, 19);
}

function imageAnnotations(desc: Descriptor): Record<string, string> {
  const a = { ...(desc.annotations ?? {}) };
  delete a[ANN_REF_NAME];
  delete a[ANN_ORIGIN];
  return a;
}

// ---------------------------------------------------------------------------------------------------------------
// resolve & load

async function mustResolve(store: OciStore, ref: string): Promise<{ parsed: ParsedReference; name: string; entry: StoreEntry }> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const entry = await store.resolve(parsed);
  if (!entry) throw new OciError(`image "${ref}": not found in the local store (${store.root})`);
  return { parsed, name, entry };
}

async function readIndexBlob(store: OciStore, image: string, desc: Descriptor): Promise<ImageIndex> {
  if (!isIndexType(desc.mediaType)) throw new OciError(`image "${image}" is not an image index (media type ${desc.mediaType})`);
  const idx = await store.readJson<ImageIndex>(desc.digest, `index of image "${image}"`);
  if (!Array.isArray(idx.manifests)) throw new OciError(`image "${image}" is not an image index`);
  return idx;
}

function pickManifest(image: string, idx: ImageIndex, arch: string): Descriptor {
  const m = idx.manifests.find((d) => d.platform?.architecture === arch);
  if (!m) {
    const have = idx.manifests.map((d) => d.platform?.architecture).filter(Boolean).join(', ') || 'none';
    throw new OciError(`image "${image}" has no manifest for architecture ${arch} (has: ${have})`);
  }
  return m;
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
    metadata = await store.readBlob(manifest.config.digest, `metadata of image "${image}"`);
  }
  const layer = async (mt: string): Promise<Buffer | null> => {
    const l = (manifest.layers ?? []).find((d) => d.mediaType === mt);
    return l ? store.readBlob(l.digest, `layer of image "${image}"`) : null;
  };
  return {
    reference: name,
    digest: entry.descriptor.digest,
    manifestDigest: mdesc.digest,
    metadata,
    ebpf: await layer(MT_EBPF),
    wasm: await layer(MT_WASM),
    btfgen: await layer(MT_BTFGEN),
    annotations: { ...(manifest.annotations ?? {}), ...(idx.annotations ?? {}) },
    origin: originOf(entry.descriptor),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// signatures

/** The cosign signature of `digest` stored for this repository (signatures are per repository). */
async function findSignature(store: OciStore, repo: string, digest: string): Promise<StoreEntry | undefined> {
  const tag = signatureTag(digest);
  const entries = await store.entries();
  return entries.find((e) => e.ref === `${repo}:${tag}`);
}

async function verifyStoredImage(store: OciStore, image: string, parsed: ParsedReference, digest: string, opts: GetImageOptions): Promise<void> {
  const { loadPublicKeys, verifySignatureManifest } = await signatureModule();
  const keys = await loadPublicKeys(opts.publicKeys ?? []);
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

// ---------------------------------------------------------------------------------------------------------------
// pull & push

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
        await client.putBlob(repo, b.digest, await store.readBlob(b.digest));
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
  progress(`Pushed ${name}@${desc.digest}`);
  return { reference: name, digest: desc.digest };
}

// ---------------------------------------------------------------------------------------------------------------
// local store management

export interface ImageSummary {
  repository: string;
  tag: string;
  digest: string;
  created: string;
  origin: ImageOrigin;
  /** full normalised reference ('' for untagged) */
  reference: string;
}

export async function listImages(opts: { store?: string } = {}): Promise<ImageSummary[]> {
  const store = new OciStore(opts.store);
  const out: ImageSummary[] = [];
  for (const e of await store.entries()) {
    let repository = '<none>';
    let tag = '<none>';
    if (e.ref) {
      let p: ParsedReference;
      try {
        p = parseQualified(e.ref);
      } catch {
        continue;
      }
      if (isSignatureTag(p.tag)) continue;
      repository = displayRepository(repositoryOf(p));
      tag = p.tag ?? (p.digest ? '<none>' : 'latest');
    } else if (!isIndexType(e.descriptor.mediaType)) {
      continue;
    }
    let created = e.descriptor.annotations?.[ANN_CREATED] ?? '';
    if (!created) {
      try {
        const idx = await store.readJson<ImageIndex>(e.descriptor.digest, 'index');
        created = idx.annotations?.[ANN_CREATED] ?? '';
      } catch {
        /* leave empty */
      }
    }
    out.push({ repository, tag, digest: e.descriptor.digest, created, origin: originOf(e.descriptor), reference: e.ref ?? '' });
  }
  out.sort((a, b) => (a.repository === b.repository ? a.tag.localeCompare(b.tag) : a.repository.localeCompare(b.repository)));
  return out;
}

export async function tagImage(src: string, dst: string, opts: { store?: string } = {}): Promise<{ reference: string; digest: string }> {
  const store = new OciStore(opts.store);
  const { entry } = await mustResolve(store, src);
  const target = parseReference(dst);
  if (target.digest) throw new OciError(`cannot tag with a digest reference "${dst}"`);
  const name = formatReference(target);
  await store.update((idx) => {
    OciStore.setTag(idx, name, entry.descriptor);
  }, [entry.descriptor.digest]);
  return { reference: name, digest: entry.descriptor.digest };
}

/** Untag; when no other tag shares the digest, delete the image (and its signatures) and garbage-collect blobs. */
export async function removeImage(ref: string, opts: { store?: string } = {}): Promise<{ reference: string; digest: string; deleted: boolean }> {
  const store = new OciStore(opts.store);
  const { name, entry } = await mustResolve(store, ref);
  const digest = entry.descriptor.digest;
  const deleted = await store.update(async (idx) => {
    const key = entry.ref ?? name;
    if (entry.ref) OciStore.removeTag(idx, key);
    else idx.manifests = idx.manifests.filter((d) => !(d.digest === digest && !d.annotations?.[ANN_REF_NAME]));
    const others = idx.manifests.some((d) => d.digest === digest && !isSignatureTag(d.annotations?.[ANN_REF_NAME]?.split(':').pop()));
    if (others) return false;
    const sigTag = signatureTag(digest);
    idx.manifests = idx.manifests.filter((d) => !d.annotations?.[ANN_REF_NAME]?.endsWith(`:${sigTag}`));
    await store.gcLocked(idx);
    return true;
  });
  return { reference: entry.ref ?? name, digest, deleted };
}

export interface InspectResult {
  reference: string;
  digest: string;
  mediaType: string;
  size: number;
  origin: ImageOrigin;
  created?: string;
  annotations: Record<string, string>;
  manifests: { digest: string; mediaType: string; size: number; platform?: Descriptor['platform']; config: Descriptor; layers: Descriptor[] }[];
  metadata?: unknown;
  signatures: string[];
}

export async function inspectImage(ref: string, opts: { store?: string } = {}): Promise<InspectResult & { metadataRaw: Buffer | null; ebpf: Buffer | null }> {
  const store = new OciStore(opts.store);
  const { name, entry } = await mustResolve(store, ref);
  const idx = await readIndexBlob(store, ref, entry.descriptor);
  const manifests: InspectResult['manifests'] = [];
  let metadataRaw: Buffer | null = null;
  let ebpf: Buffer | null = null;
  const arch = goArch();
  for (const d of idx.manifests) {
    const m = await store.readJson<Manifest>(d.digest, 'manifest');
    manifests.push({ digest: d.digest, mediaType: d.mediaType, size: d.size, platform: d.platform, config: m.config, layers: m.layers ?? [] });
    if (d.platform?.architecture === arch || (!metadataRaw && d === idx.manifests[idx.manifests.length - 1])) {
      if (m.config && m.config.mediaType !== MT_EMPTY) metadataRaw = await store.readBlob(m.config.digest);
      const l = (m.layers ?? []).find((x) => x.mediaType === MT_EBPF);
      if (l) ebpf = await store.readBlob(l.digest);
    }
  }
  const sig = await findSignature(store, repositoryOf(parseReference(ref)), entry.descriptor.digest);
  return {
    reference: entry.ref ?? name,
    digest: entry.descriptor.digest,
    mediaType: entry.descriptor.mediaType,
    size: entry.descriptor.size,
    origin: originOf(entry.descriptor),
    created: idx.annotations?.[ANN_CREATED],
    annotations: idx.annotations ?? {},
    manifests,
    signatures: sig?.ref ? [sig.ref] : [],
    metadataRaw,
    ebpf,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// export / import

/** Deterministic tarball of an OCI layout holding the given images (and their signatures). */
export async function exportImages(refs: string[], file: string, opts: { store?: string } = {}): Promise<{ references: string[]; file: string }> {
  if (!refs.length) throw new OciError('nothing to export: name at least one image');
  const store = new OciStore(opts.store);
  const entries: Descriptor[] = [];
  const blobs = new Set<string>();
  const names: string[] = [];
  let mtime = 0;
  for (const r of refs) {
    const { parsed, name, entry } = await mustResolve(store, r);
    const refName = entry.ref ?? name;
    const add = async (e: StoreEntry, refName: string) => {
      await store.walk(e.descriptor, blobs, false);
      entries.push({ mediaType: e.descriptor.mediaType, digest: e.descriptor.digest, size: e.descriptor.size, annotations: sortKeys({ ...imageAnnotations(e.descriptor), [ANN_REF_NAME]: refName }) });
    };
    await add(entry, refName);
    names.push(refName);
    if (!mtime) {
      const idx = await store.readJson<ImageIndex>(entry.descriptor.digest, 'index');
      const c = idx.annotations?.[ANN_CREATED] ?? entry.descriptor.annotations?.[ANN_CREATED];
      const t = c ? Date.parse(c) : NaN;
      if (Number.isFinite(t) && t > 0) mtime = Math.floor(t / 1000);
    }
    const sig = await findSignature(store, repositoryOf(parsed), entry.descriptor.digest);
    if (sig?.ref) await add(sig, sig.ref);
  }
  // one entry per reference, sorted by digest (then name) so the archive does not depend on argument order
  const uniq = new Map<string, Descriptor>();
  for (const e of entries) uniq.set(e.annotations![ANN_REF_NAME], e);
  const sorted = [...uniq.values()].sort((a, b) =>
    a.digest === b.digest ? a.annotations![ANN_REF_NAME].localeCompare(b.annotations![ANN_REF_NAME]) : a.digest < b.digest ? -1 : 1,
  );
  const index: ImageIndex = { schemaVersion: 2, manifests: sorted };
  const files: TarFile[] = [
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'), mtime },
    { name: 'index.json', data: Buffer.from(JSON.stringify(index)), mtime },
  ];
  for (const d of [...blobs].sort()) {
    files.push({ name: `blobs/sha256/${d.slice(7)}`, data: await store.readBlob(d), mtime });
  }
  const tar = (await tarModule()).writeTar(files);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await fsp.writeFile(tmp, tar);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new OciError(`cannot write ${file}: ${(err as Error).message}`);
  }
  return { references: names, file };
}

/** Import an OCI layout tarball. Everything is checked before anything is written to the store. */
export async function importImages(file: string, opts: { store?: string } = {}): Promise<string[]> {
  let raw: Buffer;
  try {
    raw = await fsp.readFile(file);
  } catch (err) {
    throw new OciError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const what = path.basename(file);
  let entries;
  try {
    entries = (await tarModule()).readTar(raw);
  } catch (err) {
    throw new OciError(`import ${what}: ${(err as Error).message}`);
  }
  const blobs = new Map<string, Buffer>();
  let indexJson: Buffer | undefined;
  for (const e of entries) {
    if (e.type !== 'file') continue;
    if (e.name === 'index.json') indexJson = e.data;
    else if (e.name.startsWith('blobs/')) {
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(e.name);
      if (!m) throw new OciError(`import ${what}: unexpected blob path "${e.name}" (only blobs/sha256/<hex> is supported)`);
      const d = `sha256:${m[1]}`;
      if (sha256(e.data) !== d) throw new OciError(`import ${what}: blob ${d} does not match its digest (tampered or corrupted archive); nothing imported`);
      blobs.set(d, e.data);
    }
  }
  if (!indexJson) throw new OciError(`import ${what}: not an OCI layout archive (index.json missing)`);
  let index: ImageIndex;
  try {
    index = JSON.parse(indexJson.toString('utf8'));
  } catch {
    throw new OciError(`import ${what}: index.json is not valid JSON`);
  }
  if (!Array.isArray(index.manifests)) throw new OciError(`import ${what}: index.json has no manifests`);
  // check that every image is complete
  const check = (d: Descriptor, seen: Set<string>): void => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    const b = blobs.get(d.digest);
    if (!b) throw new OciError(`import ${what}: blob ${d.digest} is referenced but missing from the archive`);
    if (typeof d.size === 'number' && b.length !== d.size) throw new OciError(`import ${what}: blob ${d.digest} has size ${b.length}, expected ${d.size}`);
    if (isIndexType(d.mediaType) || isManifestType(d.mediaType)) {
      let j: Manifest & ImageIndex;
      try {
        j = JSON.parse(b.toString('utf8'));
      } catch {
        throw new OciError(`import ${what}: manifest ${d.digest} is not valid JSON`);
      }
      if (isIndexType(d.mediaType)) for (const c of j.manifests ?? []) check(c, seen);
      else for (const c of [j.config, ...(j.layers ?? [])]) if (c) check(c, seen);
    }
  };
  const tags: { ref?: string; desc: Descriptor }[] = [];
  const needed = new Set<string>();
  for (const d of index.manifests) {
    check(d, needed);
    const rn = d.annotations?.[ANN_REF_NAME];
    let ref: string | undefined;
    if (rn) {
      try {
        ref = formatReference(parseReference(rn));
      } catch (err) {
        throw new OciError(`import ${what}: bad image name "${rn}": ${(err as Error).message}`);
      }
    }
    tags.push({ ref, desc: d });
  }
  const store = new OciStore(opts.store);
  await store.init();
  const txn = store.begin();
  try {
    // stage every blob, even ones the store has: commit() keeps the existing copy, and a concurrent GC cannot
    // leave the image incomplete
    for (const d of needed) await txn.stage(blobs.get(d)!, d);
    await txn.commit((idx) => {
      for (const t of tags) {
        const isSig = isSignatureTag(t.ref?.split(':').pop());
        const extra: Record<string, string> = isSig ? {} : { [ANN_ORIGIN]: 'imported' };
        const desc = { ...t.desc, annotations: imageAnnotations(t.desc) };
        if (t.ref) OciStore.setTag(idx, t.ref, desc, extra);
        else OciStore.addUntagged(idx, desc, extra);
      }
    }, [...needed]);
  } finally {
    await txn.discardStaged();
  }
  return tags.filter((t) => t.ref && !isSignatureTag(t.ref.split(':').pop())).map((t) => t.ref!);
}

export { OciStore };
