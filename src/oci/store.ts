// The local image store: an OCI image-layout directory (oci-layout, index.json, blobs/sha256/…).
//
// Concurrency model:
//  - readers take no lock: index.json is only ever replaced by rename, so a reader sees an old or a new index;
//  - writers download/produce blobs into `ingest/` first, then take the store lock (flock on index.json.lock),
//    move the blobs into place, re-read index.json, apply their change and atomically replace it;
//  - garbage collection runs under the same lock, so it never sees a half-committed image.

import { promises as fsp, constants as fsc, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { OciError } from './errors.js';
import { withFileLock } from './lock.js';
import { digestHex, sha256, isDigest } from './digest.js';
import {
  ANN_REF_NAME, ANN_ORIGIN, type Descriptor, type ImageIndex, type Manifest, isIndexType, isManifestType,
} from './mediatypes.js';
import { parseReference, formatReference, repositoryOf, type ParsedReference } from './reference.js';
import { removeOnInterrupt } from './interrupt.js';
import { MAX_INDEX_DEPTH } from './limits.js';

/** A blob we relied on was garbage-collected by a concurrent `ig image rm`; the operation can simply be retried. */
export class BlobVanishedError extends OciError {}

export type ImageOrigin = 'built' | 'imported' | 'pulled' | 'unknown';

export function defaultStorePath(): string {
  // IG_OCI_STORE points every command (run, image, build) at another store: tests use throwaway ones.
  if (process.env.IG_OCI_STORE) return process.env.IG_OCI_STORE;
  if (typeof process.geteuid === 'function' && process.geteuid() === 0) return '/var/lib/ig/oci-store';
  let home: string;
  try {
    home = os.userInfo().homedir; // the passwd entry, not $HOME
  } catch {
    home = os.homedir();
  }
  return path.join(home, '.ig', 'oci-store');
}

export interface StoreEntry {
  /** normalised reference with tag, or undefined for untagged entries */
  ref?: string;
  descriptor: Descriptor;
}

/** A blob waiting in ingest/ to be committed. */
export interface StagedBlob {
  digest: string;
  size: number;
  file: string;
  /** stop removing the file on SIGINT/SIGTERM (it was committed or deleted) */
  untrack: () => void;
}

export class OciStore {
  readonly root: string;

  constructor(root?: string) {
    this.root = path.resolve(root ?? defaultStorePath());
  }

  get indexPath(): string {
    return path.join(this.root, 'index.json');
  }
  get lockPath(): string {
    return path.join(this.root, 'index.json.lock');
  }
  blobPath(digest: string): string {
    return path.join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  /** Create the layout skeleton when missing. */
  async init(): Promise<void> {
    try {
      await fsp.mkdir(path.join(this.root, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
      await fsp.mkdir(path.join(this.root, 'ingest'), { recursive: true, mode: 0o700 });
      const layout = path.join(this.root, 'oci-layout');
      try {
        await fsp.access(layout);
      } catch {
        await writeAtomic(layout, Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
      }
      try {
        await fsp.access(this.indexPath);
      } catch {
        await withFileLock(this.lockPath, async () => {
          try {
            await fsp.access(this.indexPath);
          } catch {
            await writeAtomic(this.indexPath, serializeIndex({ schemaVersion: 2, manifests: [] }));
          }
        });
      }
    } catch (err) {
      if (err instanceof OciError) throw err;
      throw new OciError(`cannot initialise the image store ${this.root}: ${(err as Error).message}`);
    }
  }

  async exists(): Promise<boolean> {
    try {
      await fsp.access(this.indexPath);
      return true;
    } catch {
      return false;
    }
  }

  // readIndex and readBlob read synchronously: every `ig run` reads the index twice and 4 blobs of a few KB to
  // 300 KB before its first event, and the promise API cost ≈7 ms of CPU there (node's fs/promises module loaded,
  // a thread-pool round trip per read) where the sync reads take ≈0.3 ms each. Still async for the callers.
  async readIndex(): Promise<ImageIndex> {
    let raw: string;
    try {
      raw = readFileSync(this.indexPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, manifests: [] };
      throw new OciError(`cannot read ${this.indexPath}: ${(err as Error).message}`);
    }
    try {
      const idx = JSON.parse(raw) as ImageIndex;
      if (!Array.isArray(idx.manifests)) idx.manifests = [];
      return idx;
    } catch {
      throw new OciError(`the image store index ${this.indexPath} is not valid JSON`);
    }
  }

  async entries(): Promise<StoreEntry[]> {
    const idx = await this.readIndex();
    return idx.manifests.map((d) => ({ ref: d.annotations?.[ANN_REF_NAME], descriptor: d }));
  }

  /** Find the index descriptor for a reference (normalised; tag or digest form). */
  async resolve(ref: string | ParsedReference): Promise<StoreEntry | undefined> {
    const p = typeof ref === 'string' ? parseReference(ref) : ref;
    const entries = await this.entries();
    if (p.digest) {
      const repo = repositoryOf(p);
      // exact name + digest first, then any entry with that digest in the same repository
      const same = entries.filter((e) => e.descriptor.digest === p.digest);
      const inRepo = same.find((e) => e.ref && repositoryOf(parseReference(e.ref)) === repo);
      if (inRepo) return { ref: inRepo.ref, descriptor: inRepo.descriptor };
      if (same.length && (await this.hasBlob(p.digest))) return { ref: undefined, descriptor: same[0].descriptor };
      return undefined;
    }
    const want = formatReference(p);
    return entries.find((e) => e.ref === want);
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      await fsp.access(this.blobPath(digest), fsc.R_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** Read a blob and check its digest; a mismatch means the store was tampered with or corrupted. */
  async readBlob(digest: string, what = 'blob'): Promise<Buffer> {
    let buf: Buffer;
    try {
      buf = readFileSync(this.blobPath(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OciError(`${what} ${digest} is missing from the store ${this.root}`);
      throw new OciError(`cannot read ${what} ${digest}: ${(err as Error).message}`);
    }
    if (sha256(buf) !== digest) throw new OciError(`${what} ${digest} in the store ${this.root} does not match its digest (corrupted or tampered)`);
    return buf;
  }

  async readJson<T>(digest: string, what: string): Promise<T> {
    const buf = await this.readBlob(digest, what);
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch {
      throw new OciError(`${what} ${digest} is not valid JSON`);
    }
  }

  /** Start a write: blobs are staged in ingest/ and become visible together with the index change. */
  begin(): StoreTxn {
    return new StoreTxn(this);
  }

  /** A transaction with nothing staged: just edit index.json under the lock. */
  async update<T>(mutate: (idx: ImageIndex) => T | Promise<T>, needs: string[] = []): Promise<T> {
    return this.begin().commit(mutate, needs);
  }

  /** Tag (or re-tag) a descriptor under a normalised reference. */
  static setTag(idx: ImageIndex, ref: string, desc: Descriptor, extra: Record<string, string> = {}): void {
    const annotations: Record<string, string> = { ...(desc.annotations ?? {}), ...extra, [ANN_REF_NAME]: ref };
    const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: sortKeys(annotations) };
    const i = idx.manifests.findIndex((d) => d.annotations?.[ANN_REF_NAME] === ref);
    if (i === -1) idx.manifests.push(entry);
    else idx.manifests[i] = entry;
    // a tagged entry supersedes an untagged one for the same digest
    idx.manifests = idx.manifests.filter((d) => d.digest !== desc.digest || d.annotations?.[ANN_REF_NAME] !== undefined);
  }

  /** Add an untagged entry (for builds without -t) unless that digest is already referenced. */
  static addUntagged(idx: ImageIndex, desc: Descriptor, extra: Record<string, string> = {}): void {
    if (idx.manifests.some((d) => d.digest === desc.digest)) return;
    const annotations = { ...(desc.annotations ?? {}), ...extra };
    delete annotations[ANN_REF_NAME];
    idx.manifests.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: sortKeys(annotations) });
  }

  static removeTag(idx: ImageIndex, ref: string): Descriptor | undefined {
    const i = idx.manifests.findIndex((d) => d.annotations?.[ANN_REF_NAME] === ref);
    if (i === -1) return undefined;
    const [d] = idx.manifests.splice(i, 1);
    return d;
  }

  /** All digests reachable from `desc` that exist in the store (index → manifests → config/layers). */
  async walk(desc: Descriptor, out = new Set<string>(), missingOk = true, depth = 0): Promise<Set<string>> {
    if (out.has(desc.digest)) return out;
    if (depth > MAX_INDEX_DEPTH + 1) throw new OciError(`image ${desc.digest} in the store ${this.root} nests indexes more than ${MAX_INDEX_DEPTH} deep`);
    if (!isDigest(desc.digest)) return out;
    out.add(desc.digest);
    if (!isIndexType(desc.mediaType) && !isManifestType(desc.mediaType)) return out;
    if (!(await this.hasBlob(desc.digest))) {
      if (missingOk) return out;
      throw new OciError(`blob ${desc.digest} is missing from the store ${this.root}`);
    }
    let doc: ImageIndex & Manifest;
    try {
      doc = JSON.parse((await fsp.readFile(this.blobPath(desc.digest))).toString('utf8'));
    } catch {
      return out;
    }
    if (isIndexType(desc.mediaType)) {
      for (const m of doc.manifests ?? []) await this.walk(m, out, missingOk, depth + 1);
    } else {
      if (doc.config) await this.walk(doc.config, out, missingOk, depth + 1);
      for (const l of doc.layers ?? []) await this.walk(l, out, missingOk, depth + 1);
    }
    return out;
  }

  /**
   * Delete unreferenced blobs (and leftovers in ingest/ older than an hour). Must be called from inside commit()'s
   * mutate callback or while holding the lock; use gc() otherwise.
   */
  async gcLocked(idx: ImageIndex): Promise<number> {
    const keep = new Set<string>();
    for (const d of idx.manifests) await this.walk(d, keep);
    const dir = path.join(this.root, 'blobs', 'sha256');
    let removed = 0;
    let names: string[] = [];
    try {
      names = await fsp.readdir(dir);
    } catch {
      /* empty store */
    }
    for (const n of names) {
      if (!keep.has(`sha256:${n}`)) {
        await fsp.rm(path.join(dir, n), { force: true });
        removed++;
      }
    }
    await this.cleanIngestLocked();
    return removed;
  }

  /**
   * Under the lock: delete the blobs of `gone` (entries just removed from `idx`) that no remaining entry uses.
   * Unlike gcLocked this touches only those images' blobs.
   */
  async dropOrphansLocked(idx: ImageIndex, gone: Descriptor[]): Promise<number> {
    const candidates = new Set<string>();
    for (const d of gone) await this.walk(d, candidates);
    if (!candidates.size) return 0;
    const keep = new Set<string>();
    for (const d of idx.manifests) await this.walk(d, keep);
    let removed = 0;
    for (const d of candidates) {
      if (keep.has(d)) continue;
      await fsp.rm(this.blobPath(d), { force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Under the lock: delete ingest/ files left by writers that died (SIGKILL, crash). Files are named
   * `<pid>-<random>`; a file whose process is gone is stale, so is any other file older than an hour.
   */
  async cleanIngestLocked(): Promise<number> {
    const ingest = path.join(this.root, 'ingest');
    let names: string[];
    try {
      names = await fsp.readdir(ingest);
    } catch {
      return 0; // no ingest dir: nothing was ever staged here
    }
    let removed = 0;
    const now = Date.now();
    for (const n of names) {
      const pid = /^(\d+)-/.exec(n)?.[1];
      let stale: boolean;
      if (pid) stale = Number(pid) !== process.pid && !processAlive(Number(pid));
      // A file that vanished meanwhile (another writer finished) counts as fresh: it is not ours to remove.
      else stale = now - ((await fsp.stat(path.join(ingest, n)).catch(() => undefined))?.mtimeMs ?? now) > 3600_000;
      if (!stale) continue;
      await fsp.rm(path.join(ingest, n), { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  async gc(): Promise<number> {
    return this.update((idx) => this.gcLocked(idx));
  }
}

export class StoreTxn {
  private staged = new Map<string, StagedBlob>();
  constructor(readonly store: OciStore) {}
  private get root(): string {
    return this.store.root;
  }
  private blobPath(d: string): string {
    return this.store.blobPath(d);
  }
  private hasBlob(d: string): Promise<boolean> {
    return this.store.hasBlob(d);
  }
  private get lockPath(): string {
    return this.store.lockPath;
  }
  private get indexPath(): string {
    return this.store.indexPath;
  }
  private init(): Promise<void> {
    return this.store.init();
  }
  private readIndex(): Promise<ImageIndex> {
    return this.store.readIndex();
  }
  isStaged(digest: string): boolean {
    return this.staged.has(digest);
  }

  /** Stage bytes for the next commit; returns the digest. Nothing is visible until commit(). */
  async stage(data: Buffer, expectedDigest?: string): Promise<string> {
    const digest = sha256(data);
    if (expectedDigest && expectedDigest !== digest) {
      throw new OciError(`content digest mismatch: expected ${expectedDigest}, got ${digest}`);
    }
    if (this.staged.has(digest)) return digest;
    const { file, untrack } = await this.ingestFile();
    try {
      await fsp.writeFile(file, data, { mode: 0o644 });
    } catch (err) {
      await fsp.rm(file, { force: true });
      untrack();
      throw err;
    }
    this.staged.set(digest, { digest, size: data.length, file, untrack });
    return digest;
  }

  /** A new file name in ingest/ (named after this process, so a later writer can tell it is stale). */
  private async ingestFile(): Promise<{ file: string; untrack: () => void }> {
    await fsp.mkdir(path.join(this.root, 'ingest'), { recursive: true, mode: 0o700 });
    const file = path.join(this.root, 'ingest', `${process.pid}-${randomBytes(6).toString('hex')}`);
    return { file, untrack: removeOnInterrupt(file) };
  }

  /**
   * Stage a blob from a stream without holding it in memory: bytes go to an ingest file while their count is
   * checked against `size` (refused as soon as it is exceeded) and their sha256 computed; the digest is compared
   * at the end. `what` names the blob in errors ("blob sha256:… from host/repo").
   */
  async stageStream(source: AsyncIterable<Buffer>, digest: string, size: number, what: string): Promise<string> {
    if (this.staged.has(digest)) {
      for await (const chunk of source) void chunk; // drain: the same bytes are already staged
      return digest;
    }
    const { file, untrack } = await this.ingestFile();
    const hash = createHash('sha256');
    let n = 0;
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(file, 'wx', 0o644);
      for await (const chunk of source) {
        n += chunk.length;
        if (n > size) throw new OciError(`${what} is larger than the ${size} bytes its descriptor states: refusing it`);
        hash.update(chunk);
        await fh.write(chunk);
      }
      if (n !== size) throw new OciError(`${what} has ${n} bytes, its descriptor states ${size}: refusing it`);
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest) throw new OciError(`${what} does not match its digest: refusing tampered content (got ${got})`);
      await fh.close();
      fh = undefined;
    } catch (err) {
      await fh?.close().catch(() => undefined); // already failing: the close error adds nothing
      await fsp.rm(file, { force: true });
      untrack();
      (source as { destroy?: () => void }).destroy?.();
      throw err;
    }
    this.staged.set(digest, { digest, size, file, untrack });
    return digest;
  }

  /** Size of a staged blob, or undefined. */
  stagedSize(digest: string): number | undefined {
    return this.staged.get(digest)?.size;
  }

  /** Read back a small staged blob (manifests, indexes). */
  async readStaged(digest: string): Promise<Buffer> {
    const s = this.staged.get(digest);
    if (!s) throw new OciError(`blob ${digest} was not staged`);
    return fsp.readFile(s.file);
  }

  /** Forget (and delete) everything staged but not committed. */
  async discardStaged(): Promise<void> {
    const staged = [...this.staged.values()];
    this.staged.clear();
    await Promise.all(staged.map((s) => fsp.rm(s.file, { force: true })));
    for (const s of staged) s.untrack();
  }

  /**
   * Under the store lock: move staged blobs into blobs/, make sure every digest in `needs` is present, then let
   * `mutate` edit the freshly read index.json and save it atomically. Returns mutate's result.
   */
  async commit<T>(mutate: (idx: ImageIndex) => T | Promise<T>, needs: string[] = []): Promise<T> {
    await this.init();
    try {
      return await withFileLock(this.lockPath, async () => {
        await this.store.cleanIngestLocked();
        for (const s of this.staged.values()) {
          const dst = this.blobPath(s.digest);
          if (await this.hasBlob(s.digest)) {
            await fsp.rm(s.file, { force: true });
          } else {
            await fsp.rename(s.file, dst);
          }
          s.untrack();
        }
        this.staged.clear();
        for (const d of needs) {
          if (!(await this.hasBlob(d))) {
            throw new BlobVanishedError(`blob ${d} vanished from the store ${this.root} while committing (removed concurrently); try again`);
          }
        }
        const idx = await this.readIndex();
        const before = serializeIndex(idx);
        const entriesBefore = [...idx.manifests];
        const result = await mutate(idx);
        // an image whose last reference went away (a rebuilt or re-pulled tag) takes its own blobs with it
        const still = new Set(idx.manifests.map((d) => d.digest));
        const replaced = entriesBefore.filter((d) => !still.has(d.digest));
        if (replaced.length) await this.store.dropOrphansLocked(idx, replaced);
        const after = serializeIndex(idx);
        if (!before.equals(after)) await writeAtomic(this.indexPath, after);
        return result;
      });
    } finally {
      await this.discardStaged();
    }
  }

}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export function originOf(desc: Descriptor): ImageOrigin {
  const o = desc.annotations?.[ANN_ORIGIN];
  return o === 'built' || o === 'imported' || o === 'pulled' ? o : 'unknown';
}

export function sortKeys(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k];
  return out;
}

export function serializeIndex(idx: ImageIndex): Buffer {
  return Buffer.from(JSON.stringify(idx));
}

export async function writeAtomic(file: string, data: Buffer, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
}
