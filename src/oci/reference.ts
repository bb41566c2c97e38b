// Image reference parsing and Inspektor Gadget's normalisation rules (ig-spec §1.5).

import { OciError } from './errors.js';

export const DEFAULT_DOMAIN = 'ghcr.io';
export const OFFICIAL_PREFIX = 'inspektor-gadget/gadget/';
export const OFFICIAL_REPO_PREFIX = `${DEFAULT_DOMAIN}/${OFFICIAL_PREFIX}`;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

export interface ParsedReference {
  /** registry host, possibly with port ("ghcr.io", "localhost:5000") */
  domain: string;
  /** repository path inside the registry ("inspektor-gadget/gadget/trace_open") */
  path: string;
  tag?: string;
  digest?: string;
}

/** domain/path */
export function repositoryOf(r: ParsedReference): string {
  return `${r.domain}/${r.path}`;
}

export function formatReference(r: ParsedReference): string {
  let s = repositoryOf(r);
  if (r.tag) s += `:${r.tag}`;
  if (r.digest) s += `@${r.digest}`;
  return s;
}

function isDomainLike(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first;
}

/**
 * Split ig-style: the first component is a domain only if it looks like one, otherwise the domain is ghcr.io;
 * a bare name on ghcr.io lives under inspektor-gadget/gadget/.
 */
export function splitIGDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  if (i === -1 || !isDomainLike(name.slice(0, i))) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = name.slice(0, i);
    remainder = name.slice(i + 1);
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_PREFIX + remainder;
  return { domain, remainder };
}

function invalid(ref: string, why: string): OciError {
  return new OciError(`invalid image reference "${ref}": ${why}`);
}

/** Parse a fully qualified reference "domain/path[:tag][@digest]" without applying any defaults. */
export function parseQualified(ref: string, original = ref): ParsedReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw invalid(original, `bad digest "${digest}"`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(original, `bad tag "${tag}"`);
  }
  const slash = rest.indexOf('/');
  if (slash === -1) throw invalid(original, 'missing registry domain');
  const domain = rest.slice(0, slash);
  const path = rest.slice(slash + 1);
  checkDomain(domain, original);
  checkPath(path, original);
  if (rest.length > 255) throw invalid(original, 'repository name must not be longer than 255 characters');
  return { domain, path, tag, digest };
}

function checkDomain(domain: string, original: string): void {
  let host = domain;
  const m = /^(.*):(\d+)$/.exec(domain);
  if (m) host = m[1];
  if (host.startsWith('[') && host.endsWith(']')) return; // IPv6 literal
  if (!host || !host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) throw invalid(original, `bad registry domain "${domain}"`);
}

function checkPath(path: string, original: string): void {
  if (!path) throw invalid(original, 'empty repository name');
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) {
      if (c.toLowerCase() !== c && PATH_COMPONENT.test(c.toLowerCase())) throw invalid(original, 'repository name must be lowercase');
      throw invalid(original, `bad repository component "${c}"`);
    }
  }
}

/** Parse and normalise the way ig does; adds ":latest" when neither tag nor digest is given. */
export function parseReference(ref: string): ParsedReference {
  const input = ref.trim();
  if (!input) throw invalid(ref, 'empty reference');
  // Split the name part from tag/digest before deciding on the domain, as the first '/' decides.
  const { domain, remainder } = splitIGDomain(input);
  // docker.io conventions as distribution/reference's ParseNormalizedNamed applies them
  let parsed = parseQualified(`${domain}/${remainder}`, ref);
  if (parsed.domain === 'index.docker.io') parsed.domain = 'docker.io';
  if (parsed.domain === 'docker.io' && !parsed.path.includes('/')) parsed.path = `library/${parsed.path}`;
  if (!parsed.tag && !parsed.digest) parsed = { ...parsed, tag: 'latest' };
  return parsed;
}

/** ig-spec §1.5: `trace_open` → `ghcr.io/inspektor-gadget/gadget/trace_open:latest`. */
export function normalizeReference(ref: string): string {
  return formatReference(parseReference(ref));
}

/** What `ig image list` shows as repository: the official prefix is stripped. */
export function displayRepository(repo: string): string {
  return repo.startsWith(OFFICIAL_REPO_PREFIX) ? repo.slice(OFFICIAL_REPO_PREFIX.length) : repo;
}

/** The cosign legacy signature tag for an index digest: sha256-<hex>.sig */
export function signatureTag(digest: string): string {
  return digest.replace(':', '-') + '.sig';
}

/** The OCI 1.1 referrers tag schema: registries without the referrers API list an image's referrers here. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Signing information stored beside images (cosign `.sig` and referrers-tag indexes): never listed as images. */
export function isSignatureTag(tag: string | undefined): boolean {
  return !!tag && /^sha256-[a-f0-9]{64}(\.sig)?$/.test(tag);
}
