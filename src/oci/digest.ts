import { createHash } from 'node:crypto';
import { OciError } from './errors.js';

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export function digestHex(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw new OciError(`unsupported or malformed digest "${digest}" (only sha256 is supported)`);
  return digest.slice('sha256:'.length);
}

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** Sort object keys recursively, like Go's encoding/json does for maps. */
export function sortedRecord(m: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k];
  return out;
}
