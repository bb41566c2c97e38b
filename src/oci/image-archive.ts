// OCI layout tarballs: `ig image export` (deterministic) and `ig image import` (checked before anything is written).

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { OciError } from './errors.js';
import { sha256 } from './digest.js';
import { ANN_CREATED, ANN_ORIGIN, ANN_REF_NAME, isIndexType, isManifestType, type Descriptor, type ImageIndex, type Manifest } from './mediatypes.js';
import { formatReference, isSignatureTag, parseReference, repositoryOf } from './reference.js';
import { OciStore, sortKeys, type StoreEntry } from './store.js';
import type { TarFile } from './tar.js';
import { findSignature, imageAnnotations, mustResolve, tarModule } from './image-lookup.js';

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
