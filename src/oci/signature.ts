// cosign-compatible signatures, legacy "tag" flavour: the signature of index digest D lives in the same repository
// under tag `sha256-<hex(D)>.sig`, as a manifest whose layers are simple-signing payloads; each layer carries the
// base64 DER signature of its payload bytes in the annotation `dev.cosignproject.cosign/signature`.

import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { OciError } from './errors.js';
import { sha256 } from './digest.js';
import { verifyPayloadSignature } from './sigstore-verify.js';
import {
  ANN_COSIGN_SIGNATURE, MT_COSIGN_SIMPLESIGNING, MT_MANIFEST, MT_OCI_CONFIG, type Descriptor, type Manifest,
} from './mediatypes.js';

export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, unknown> | null;
}

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export function makePayload(repository: string, digest: string): Buffer {
  const p: SimpleSigningPayload = {
    critical: { identity: { 'docker-reference': repository }, image: { 'docker-manifest-digest': digest }, type: COSIGN_SIGNATURE_TYPE },
    optional: null,
  };
  return Buffer.from(JSON.stringify(p));
}

/** Load a private key from PEM (PKCS#8, SEC1 "EC PRIVATE KEY", optionally passphrase-encrypted PKCS#8). */
export async function loadPrivateKey(file: string, passphrase?: string): Promise<KeyObject> {
  let pem: Buffer;
  try {
    pem = await fsp.readFile(file);
  } catch (err) {
    throw new OciError(`cannot read key ${file}: ${(err as Error).message}`);
  }
  if (pem.includes('ENCRYPTED SIGSTORE PRIVATE KEY') || pem.includes('ENCRYPTED COSIGN PRIVATE KEY')) {
    throw new OciError(`key ${file} is in cosign's encrypted format, which is not supported; export it as PEM (e.g. openssl ec)`);
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch (err) {
    const m = (err as Error).message;
    if (/passphrase|bad decrypt/i.test(m)) throw new OciError(`key ${file} is encrypted: set COSIGN_PASSWORD or pass --key-password`);
    throw new OciError(`key ${file} is not a usable PEM private key: ${m}`);
  }
}

/**
 * Public keys given on the command line or in options: each entry is either PEM text or the path of a PEM file.
 * A file may hold several keys.
 */
export async function loadPublicKeys(entries: string[]): Promise<KeyObject[]> {
  const keys: KeyObject[] = [];
  for (const e of entries) {
    if (!e.trim()) continue;
    let text = e;
    if (!e.includes('-----BEGIN')) {
      try {
        text = await fsp.readFile(e, 'utf8');
      } catch (err) {
        throw new OciError(`cannot read public key ${e}: ${(err as Error).message}`);
      }
    }
    const blocks = text.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
    if (!blocks.length) throw new OciError(`no PEM public key found in ${e.includes('-----BEGIN') ? 'the given key text' : e}`);
    for (const b of blocks) {
      try {
        keys.push(createPublicKey(b));
      } catch (err) {
        throw new OciError(`invalid public key in ${e.includes('-----BEGIN') ? 'the given key text' : e}: ${(err as Error).message}`);
      }
    }
  }
  return keys;
}

export function signPayload(payload: Buffer, key: KeyObject): string {
  const alg = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return cryptoSign(alg, payload, key).toString('base64');
}

/** Verification goes through sigstore-js (see sigstore-verify.ts); signing stays on node:crypto. */
export function verifyPayload(payload: Buffer, signatureB64: string, keys: KeyObject[]): boolean {
  return verifyPayloadSignature(payload, signatureB64, keys);
}

export interface SignatureArtifact {
  manifest: Buffer;
  manifestDigest: string;
  blobs: Buffer[];
}

/** Build the `.sig` manifest (plus its config and payload blobs) for one or more signed payloads. */
export function buildSignatureManifest(layers: { payload: Buffer; signature: string }[]): SignatureArtifact {
  const layerDescs: Descriptor[] = layers.map((l) => ({
    mediaType: MT_COSIGN_SIMPLESIGNING,
    digest: sha256(l.payload),
    size: l.payload.length,
    annotations: { [ANN_COSIGN_SIGNATURE]: l.signature },
  }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: layerDescs.map((d) => d.digest) },
      config: {},
    }),
  );
  const m: Manifest = {
    schemaVersion: 2,
    mediaType: MT_MANIFEST,
    config: { mediaType: MT_OCI_CONFIG, digest: sha256(config), size: config.length },
    layers: layerDescs,
  };
  const manifest = Buffer.from(JSON.stringify(m));
  return { manifest, manifestDigest: sha256(manifest), blobs: [config, ...layers.map((l) => l.payload)] };
}

/**
 * Check the layers of a `.sig` manifest: at least one simple-signing payload must name `digest` and carry a
 * signature that one of `keys` verifies. `readBlob` returns verified blob bytes.
 */
export async function verifySignatureManifest(
  image: string,
  sigManifest: Manifest,
  digest: string,
  keys: KeyObject[],
  readBlob: (d: string) => Promise<Buffer>,
): Promise<void> {
  let sawPayload = false;
  let sawDigest = false;
  for (const l of sigManifest.layers ?? []) {
    if (l.mediaType !== MT_COSIGN_SIMPLESIGNING) continue;
    const sig = l.annotations?.[ANN_COSIGN_SIGNATURE];
    if (!sig) continue;
    sawPayload = true;
    const payload = await readBlob(l.digest);
    let p: SimpleSigningPayload;
    try {
      p = JSON.parse(payload.toString('utf8')) as SimpleSigningPayload;
    } catch {
      continue;
    }
    if (p?.critical?.image?.['docker-manifest-digest'] !== digest) continue;
    sawDigest = true;
    if (verifyPayload(payload, sig, keys)) return;
  }
  if (!sawPayload) throw new OciError(`image "${image}": its signature manifest holds no cosign signature`);
  if (!sawDigest) throw new OciError(`image "${image}": the signature was made for a different digest than ${digest}`);
  throw new OciError(`image "${image}": signature verification failed: no given public key matches the signature`);
}
