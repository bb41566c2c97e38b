// The CAs of NODE_EXTRA_CA_CERTS when bin/ig deferred them. Node parses every certificate of that file before any
// JavaScript runs (≈50 ms of CPU for Debian's 144-certificate bundle, a third of `ig run`'s start-up), so the
// launcher hands the file name over in IG_DEFERRED_EXTRA_CA_CERTS instead, for `ig run`/`ig replay` only, and the
// TLS clients those commands use (the registry client, the OTLP exporters) trust node's root CAs plus these
// explicitly: what node's default store would have held. Processes ig starts get NODE_EXTRA_CA_CERTS back
// (src/launcher/ig.ts).
import { readFileSync } from 'node:fs';
import { tls } from '../runtime/lazy-builtins.js';

export const DEFERRED_ENV = 'IG_DEFERRED_EXTRA_CA_CERTS';

let loaded: { file: string; pem: string[] } | undefined;

/** The deferred extra CAs as PEM text (empty when nothing was deferred); read once per file. */
export function deferredExtraCas(env: NodeJS.ProcessEnv = process.env): string[] {
  const file = env[DEFERRED_ENV];
  if (!file) return [];
  if (loaded?.file !== file) {
    let pem: string[] = [];
    try {
      pem = [readFileSync(file, 'utf8')];
    } catch (e) {
      // node's own behaviour for an unreadable NODE_EXTRA_CA_CERTS: a warning, and the root CAs alone
      process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    loaded = { file, pem };
  }
  return loaded.pem;
}

/**
 * The CAs a TLS client should pass as `ca`: undefined when node's default store is right (nothing deferred, nothing
 * given), else node's root CAs, the deferred extra CAs and `given` (e.g. a registry's --cert-dir CAs).
 */
export function trustedCas(given: (string | Buffer)[] = [], env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const extra = deferredExtraCas(env);
  if (extra.length === 0 && given.length === 0) return undefined;
  return [...tls().rootCertificates, ...extra, ...given.map((c) => (typeof c === 'string' ? c : c.toString('utf8')))];
}

/** The same as one PEM buffer, for gRPC's credentials.createSsl(rootCerts) (undefined: gRPC's defaults). */
export function trustedCasPem(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const cas = trustedCas([], env);
  return cas === undefined ? undefined : Buffer.from(cas.join('\n'));
}
