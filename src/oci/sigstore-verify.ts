// Signature checks through sigstore-js (@sigstore/verify): every signature format we accept is turned into a
// sigstore bundle and verified by the library, so the cryptography (ECDSA/Ed25519/RSA, DSSE pre-authentication
// encoding, digest algorithms) is not ours to get wrong.
//
// Key-based verification is offline, as upstream's ig does it: the signature must verify with one of the given
// public keys; transparency-log entries and timestamps a bundle may carry are not checked (that needs Rekor's and
// the TSA's keys and, for inclusion proofs, the network). Their presence is not required either.

import type { KeyObject } from 'node:crypto';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { bundleFromJSON, toMessageSignatureBundle, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';

/** An empty trusted root: no CAs, logs or TSAs, so only a bundle's public-key hint can make it verify. */
const EMPTY_TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

/** Offline key check: no transparency-log entries, SCTs or timestamps are required. */
const OFFLINE = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };

/** True when one of `keys` verifies the bundle (for a message signature, over `artifact`). */
function verifiesWithOneOf(bundle: Bundle, keys: KeyObject[], artifact?: Buffer): boolean {
  // tlog entries and RFC 3161 timestamps would be checked against Rekor/TSA keys we do not hold: drop them.
  const offline: Bundle = {
    ...bundle,
    verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [], timestampVerificationData: undefined },
  } as Bundle;
  for (let i = 0; i < keys.length; i++) {
    const hint = `ig-key-${i}`;
    const withHint = {
      ...offline,
      verificationMaterial: { ...offline.verificationMaterial, content: { $case: 'publicKey', publicKey: { hint } } },
    } as Bundle;
    const trust = toTrustMaterial(EMPTY_TRUSTED_ROOT as never, (h: string) => {
      if (h !== hint) throw new Error(`unknown key hint ${h}`);
      return { publicKey: keys[i], validFor: () => true };
    });
    try {
      new Verifier(trust, OFFLINE).verify(toSignedEntity(withHint, artifact));
      return true;
    } catch {
      /* this key does not verify the signature (or is of another type): try the next one */
    }
  }
  return false;
}

/** cosign's simple-signing form (legacy `.sig` tag and OCI 1.1 cosign referrers): a signature over payload bytes. */
export function verifyPayloadSignature(payload: Buffer, signatureB64: string, keys: KeyObject[]): boolean {
  // sigstore-js verifies message signatures with a digest algorithm (sha256), which pure Ed25519 does not take:
  // keys of that type are checked directly, as cosign's Ed25519 verifier does (signature over the payload bytes).
  const ed = keys.filter((k) => k.asymmetricKeyType === 'ed25519');
  if (ed.some((k) => cryptoVerify(null, payload, k, Buffer.from(signatureB64, 'base64')))) return true;
  keys = keys.filter((k) => k.asymmetricKeyType !== 'ed25519');
  const bundle = toMessageSignatureBundle({
    digest: createHash('sha256').update(payload).digest(),
    signature: Buffer.from(signatureB64, 'base64'),
    keyHint: 'ig-key',
  });
  return verifiesWithOneOf(bundle, keys, payload);
}

export type BundleCheck =
  | { ok: true; payload: Buffer; payloadType: string }
  | { ok: false; reason: string };

/**
 * A sigstore bundle (v0.3 JSON) as `cosign sign --new-bundle-format` attaches it: a DSSE envelope whose payload is
 * an in-toto statement naming the image digest. Returns the verified payload; the caller checks what it names.
 */
export function verifyDsseBundle(bundleJson: Buffer, keys: KeyObject[]): BundleCheck {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(bundleJson.toString('utf8')));
  } catch (err) {
    return { ok: false, reason: `not a valid sigstore bundle (${(err as Error).message})` };
  }
  if (bundle.content.$case !== 'dsseEnvelope') return { ok: false, reason: 'the bundle holds no DSSE envelope' };
  const env = bundle.content.dsseEnvelope;
  if (env.signatures.length !== 1) return { ok: false, reason: `the bundle's envelope has ${env.signatures.length} signatures, expected 1` };
  if (!verifiesWithOneOf(bundle, keys)) return { ok: false, reason: 'no given public key matches the signature' };
  return { ok: true, payload: Buffer.from(env.payload), payloadType: env.payloadType };
}

/** The image digests an in-toto statement names as its subjects (`sha256:<hex>`). */
export function statementSubjectDigests(payload: Buffer): string[] {
  let st: { subject?: { digest?: Record<string, string> }[] };
  try {
    st = JSON.parse(payload.toString('utf8'));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const s of st?.subject ?? []) for (const [alg, hex] of Object.entries(s?.digest ?? {})) out.push(`${alg}:${hex}`);
  return out;
}
