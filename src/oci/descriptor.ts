// Checked parsing of manifests, indexes and the descriptors in them: every digest must be `sha256:<64 hex>` and
// every size a non-negative integer within the caps before a descriptor can reach a file path, a URL or a read.

import { OciError } from './errors.js';
import { DIGEST_RE } from './digest.js';
import { MAX_BLOB_BYTES, MAX_MANIFEST_BYTES, mib } from './limits.js';
import { isIndexType, isManifestType, type Descriptor, type ImageIndex, type Manifest } from './mediatypes.js';

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)?.slice(0, 80)}`;
}

/** A digest usable as a file name and URL component, or an error naming where it came from. */
export function checkDigest(d: unknown, where: string): string {
  if (typeof d !== 'string' || !DIGEST_RE.test(d)) {
    throw new OciError(`${where}: digest ${typeof d === 'string' ? JSON.stringify(d.slice(0, 100)) : kind(d)} is not sha256:<64 hex digits>`);
  }
  return d;
}

export function checkDescriptor(v: unknown, where: string): Descriptor {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new OciError(`${where}: descriptor is ${kind(v)}, not an object`);
  const d = v as Descriptor;
  if (typeof d.mediaType !== 'string' || !d.mediaType || d.mediaType.length > 255) throw new OciError(`${where}: descriptor has no valid mediaType`);
  checkDigest(d.digest, where);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw new OciError(`${where}: descriptor ${d.digest} has invalid size ${kind(d.size)}`);
  const cap = isIndexType(d.mediaType) || isManifestType(d.mediaType) ? MAX_MANIFEST_BYTES : MAX_BLOB_BYTES;
  if (d.size > cap) throw new OciError(`${where}: ${d.digest} claims ${d.size} bytes, more than the ${mib(cap)} limit`);
  if (d.annotations !== undefined && (!d.annotations || typeof d.annotations !== 'object' || Array.isArray(d.annotations))) {
    throw new OciError(`${where}: descriptor ${d.digest} has annotations that are ${kind(d.annotations)}, not a map`);
  }
  return d;
}

function parseJsonObject(body: Buffer, where: string): Record<string, unknown> {
  if (body.length > MAX_MANIFEST_BYTES) throw new OciError(`${where}: ${body.length} bytes is more than the ${mib(MAX_MANIFEST_BYTES)} limit for manifests`);
  let j: unknown;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    throw new OciError(`${where} is not valid JSON`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new OciError(`${where} is ${kind(j)}, not a JSON object`);
  const ann = (j as Record<string, unknown>).annotations;
  if (ann !== undefined && (!ann || typeof ann !== 'object' || Array.isArray(ann) || Object.values(ann).some((v) => typeof v !== 'string'))) {
    throw new OciError(`${where}: "annotations" must be a map of strings`);
  }
  return j as Record<string, unknown>;
}

/** An image index whose child descriptors are all valid. */
export function parseIndex(body: Buffer, where: string): ImageIndex {
  const j = parseJsonObject(body, where);
  if (!Array.isArray(j.manifests)) throw new OciError(`${where}: "manifests" is ${kind(j.manifests)}, not a list`);
  j.manifests.forEach((m, i) => checkDescriptor(m, `${where}: manifests[${i}]`));
  return j as unknown as ImageIndex;
}

/** An image manifest whose config and layer descriptors are all valid. */
export function parseManifest(body: Buffer, where: string): Manifest {
  const j = parseJsonObject(body, where);
  if (j.config !== undefined) checkDescriptor(j.config, `${where}: config`);
  if (j.layers !== undefined && !Array.isArray(j.layers)) throw new OciError(`${where}: "layers" is ${kind(j.layers)}, not a list`);
  ((j.layers as unknown[] | undefined) ?? []).forEach((l, i) => checkDescriptor(l, `${where}: layers[${i}]`));
  return j as unknown as Manifest;
}
