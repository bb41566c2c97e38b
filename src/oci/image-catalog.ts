// Managing the local store's images: list, tag, remove (with garbage collection) and inspect.

import { OciError } from './errors.js';
import { ANN_CREATED, ANN_REF_NAME, MT_EBPF, MT_EMPTY, goArch, isIndexType, type Descriptor, type ImageIndex, type Manifest } from './mediatypes.js';
import {
  displayRepository, formatReference, isSignatureTag, referrersTag, parseQualified, parseReference, repositoryOf, signatureTag,
  type ParsedReference,
} from './reference.js';
import { OciStore, originOf, type ImageOrigin } from './store.js';
import { findSignature, mustResolve, readIndexBlob } from './image-lookup.js';

export interface ImageSummary {
  repository: string;
  tag: string;
  digest: string;
  created: string;
  origin: ImageOrigin;
  /** full normalised reference ('' for untagged) */
  reference: string;
}

/** `sorted: false`: in the store's order (saves loading ICU's collation data, ~2 MB resident, where order does not matter). */
export async function listImages(opts: { store?: string; sorted?: boolean } = {}): Promise<ImageSummary[]> {
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
  if (opts.sorted !== false) out.sort((a, b) => (a.repository === b.repository ? a.tag.localeCompare(b.tag) : a.repository.localeCompare(b.repository)));
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
    const sigTags = [`:${signatureTag(digest)}`, `:${referrersTag(digest)}`];
    idx.manifests = idx.manifests.filter((d) => !sigTags.some((t) => d.annotations?.[ANN_REF_NAME]?.endsWith(t)));
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
