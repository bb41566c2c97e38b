// OCI layout tarballs: `ig image export` (deterministic) and `ig image import` (checked before anything is written).

import { promises as fsp, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { OciError } from './errors.js';
import { zlib } from '../runtime/lazy-builtins.js';
import { parseIndex, parseManifest } from './descriptor.js';
import { MAX_BLOB_BYTES, MAX_IMPORT_BYTES, MAX_INDEX_DEPTH, MAX_MANIFEST_BYTES, mib } from './limits.js';
import { ANN_CREATED, ANN_ORIGIN, ANN_REF_NAME, isIndexType, isManifestType, type Descriptor, type ImageIndex } from './mediatypes.js';
import { formatReference, isSignatureTag, parseReference, repositoryOf } from './reference.js';
import { OciStore, sortKeys, type StoreEntry, type StoreTxn } from './store.js';
import type { TarFileEntry } from './tar.js';
import { removeOnInterrupt } from './interrupt.js';
import { findReferrers, findSignature, imageAnnotations, mustResolve, tarModule } from './image-lookup.js';

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
    const refs = await findReferrers(store, repositoryOf(parsed), entry.descriptor.digest);
    if (refs?.ref) await add(refs, refs.ref);
  }
  // one entry per reference, sorted by digest (then name) so the archive does not depend on argument order
  const uniq = new Map<string, Descriptor>();
  for (const e of entries) uniq.set(e.annotations![ANN_REF_NAME], e);
  const sorted = [...uniq.values()].sort((a, b) =>
    a.digest === b.digest ? a.annotations![ANN_REF_NAME].localeCompare(b.annotations![ANN_REF_NAME]) : a.digest < b.digest ? -1 : 1,
  );
  const index: ImageIndex = { schemaVersion: 2, manifests: sorted };
  const files: TarFileEntry[] = [
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'), mtime },
    { name: 'index.json', data: Buffer.from(JSON.stringify(index)), mtime },
  ];
  for (const d of [...blobs].sort()) {
    const p = store.blobPath(d);
    const st = await fsp.stat(p).catch(() => undefined);
    if (!st) throw new OciError(`blob ${d} is missing from the store ${store.root}`);
    files.push({ name: `blobs/sha256/${d.slice(7)}`, file: { path: p, size: st.size, digest: d }, mtime });
  }
  // blobs are copied in chunks with their digests checked: an export never holds the images in memory
  const tmp = `${file}.tmp-${process.pid}`;
  const untrack = removeOnInterrupt(tmp);
  try {
    const fh = await fsp.open(tmp, 'w', 0o644);
    try {
      await (await tarModule()).writeTarFile(fh, files);
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new OciError(`cannot write ${file}: ${(err as Error).message}`);
  } finally {
    untrack();
  }
  return { references: names, file };
}

/** Open `file` for reading only if it is a regular file (not a device, FIFO or directory: those never end or block). */
async function openRegularFile(file: string): Promise<fsp.FileHandle> {
  let fh: fsp.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO without a writer must not hang before fstat can refuse it
    fh = await fsp.open(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw new OciError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new OciError(`cannot import ${file}: not a regular file (an archive must be a file, not a ${st.isDirectory() ? 'directory' : st.isFIFO() ? 'pipe' : 'device or socket'})`);
  }
  return fh;
}

/** The archive's bytes, gunzipped when compressed, at most `max` of them (counted after decompression). */
async function* archiveBytes(fh: fsp.FileHandle, what: string, max: number): AsyncGenerator<Buffer> {
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  const raw = fh.createReadStream({ start: 0, autoClose: false });
  let src: AsyncIterable<Buffer> = raw;
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = zlib().createGunzip();
    raw.on('error', (e) => gunzip.destroy(e));
    src = raw.pipe(gunzip);
  }
  let n = 0;
  try {
    for await (const c of src) {
      n += c.length;
      if (n > max) throw new OciError(`import ${what}: the archive holds more than ${mib(max)}, the limit for an image archive`);
      yield c;
    }
  } catch (err) {
    if (err instanceof OciError) throw err;
    throw new OciError(`import ${what}: ${(err as NodeJS.ErrnoException).code?.startsWith('Z_') ? 'malformed archive: bad gzip data' : (err as Error).message}`);
  } finally {
    raw.destroy();
  }
}

/**
 * Import an OCI layout tarball. It is streamed: blobs go to the store's ingest/ with their digests checked as they
 * arrive, manifests are read back from there; the index changes only after everything was checked.
 */
export async function importImages(file: string, opts: { store?: string; maxBytes?: number } = {}): Promise<string[]> {
  const what = path.basename(file);
  const fh = await openRegularFile(file);
  const store = new OciStore(opts.store);
  const storeExisted = await store.exists();
  const txn = store.begin();
  let ok = false;
  try {
    const tags = await stageArchive(fh, what, txn, opts.maxBytes ?? MAX_IMPORT_BYTES);
    await txn.commit((idx) => {
      for (const t of tags.entries) {
        const isSig = isSignatureTag(t.ref?.split(':').pop());
        const extra: Record<string, string> = isSig ? {} : { [ANN_ORIGIN]: 'imported' };
        const desc = { ...t.desc, annotations: imageAnnotations(t.desc) };
        if (t.ref) OciStore.setTag(idx, t.ref, desc, extra);
        else OciStore.addUntagged(idx, desc, extra);
      }
    }, [...tags.needed]);
    ok = true;
    return tags.entries.filter((t) => t.ref && !isSignatureTag(t.ref.split(':').pop())).map((t) => t.ref!);
  } finally {
    await txn.discardStaged();
    await fh.close();
    if (!ok && !storeExisted) {
      // a refused archive leaves no store behind; rmdir only removes empty directories, so nothing else is lost
      // (not empty, or already gone: either way there is nothing of ours to remove)
      await fsp.rmdir(path.join(store.root, 'ingest')).catch(() => undefined);
      await fsp.rmdir(store.root).catch(() => undefined);
    }
  }
}

/** Stage every blob of the archive and check that each image it names is complete. */
async function stageArchive(fh: fsp.FileHandle, what: string, txn: StoreTxn, maxBytes: number): Promise<{ entries: { ref?: string; desc: Descriptor }[]; needed: Set<string> }> {
  const { readTarStream } = await tarModule();
  let indexJson: Buffer | undefined;
  try {
    for await (const e of readTarStream(archiveBytes(fh, what, maxBytes))) {
      if (e.type !== 'file') continue;
      if (e.name === 'index.json') {
        if (e.size > MAX_MANIFEST_BYTES) throw new OciError(`import ${what}: index.json is ${e.size} bytes, more than the ${mib(MAX_MANIFEST_BYTES)} limit`);
        const parts: Buffer[] = [];
        for await (const c of e.body) parts.push(c);
        indexJson = Buffer.concat(parts);
      } else if (e.name.startsWith('blobs/')) {
        const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(e.name);
        if (!m) throw new OciError(`import ${what}: unexpected blob path "${e.name}" (only blobs/sha256/<hex> is supported)`);
        if (e.size > MAX_BLOB_BYTES) throw new OciError(`import ${what}: blob ${e.name} is ${e.size} bytes, more than the ${mib(MAX_BLOB_BYTES)} limit`);
        const d = `sha256:${m[1]}`;
        await txn.stageStream(e.body, d, e.size, `import ${what}: blob ${d}`).catch((err: Error) => {
          throw new OciError(/does not match its digest/.test(err.message) ? `import ${what}: blob ${d} does not match its digest (tampered or corrupted archive); nothing imported` : err.message);
        });
      }
    }
  } catch (err) {
    if (err instanceof OciError && err.message.startsWith(`import ${what}`)) throw err;
    throw new OciError(`import ${what}: ${(err as Error).message}`);
  }
  if (!indexJson) throw new OciError(`import ${what}: not an OCI layout archive (index.json missing)`);
  const index = parseIndex(indexJson, `import ${what}: index.json`);
  const needed = new Set<string>();
  // every image must be complete; manifests are small (capped) and read back from ingest/
  const check = async (d: Descriptor, depth: number): Promise<void> => {
    if (needed.has(d.digest)) return;
    needed.add(d.digest);
    const size = txn.stagedSize(d.digest);
    if (size === undefined) throw new OciError(`import ${what}: blob ${d.digest} is referenced but missing from the archive`);
    if (size !== d.size) throw new OciError(`import ${what}: blob ${d.digest} has size ${size}, expected ${d.size}`);
    if (isIndexType(d.mediaType)) {
      if (depth > MAX_INDEX_DEPTH) throw new OciError(`import ${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
      for (const c of parseIndex(await txn.readStaged(d.digest), `import ${what}: index ${d.digest}`).manifests) await check(c, depth + 1);
    } else if (isManifestType(d.mediaType)) {
      const m = parseManifest(await txn.readStaged(d.digest), `import ${what}: manifest ${d.digest}`);
      for (const c of [m.config, ...(m.layers ?? [])]) if (c) await check(c, depth + 1);
    }
  };
  const entries: { ref?: string; desc: Descriptor }[] = [];
  for (const d of index.manifests) {
    await check(d, 1);
    const rn = d.annotations?.[ANN_REF_NAME];
    let ref: string | undefined;
    if (rn) {
      try {
        ref = formatReference(parseReference(rn));
      } catch (err) {
        throw new OciError(`import ${what}: bad image name "${rn}": ${(err as Error).message}`);
      }
    }
    entries.push({ ref, desc: d });
  }
  return { entries, needed };
}
