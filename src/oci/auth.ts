// Registry credentials (docker config.json format) and TLS trust material.

import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OciError } from './errors.js';
import { writeAtomic } from './store.js';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthFileJson {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  [k: string]: unknown;
}

function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/** Where `ig login` writes and where pulls look first: /var/lib/ig/config.json for root, ~/.ig/config.json otherwise. */
export function defaultAuthFile(): string {
  if (isRoot()) return '/var/lib/ig/config.json';
  return path.join(os.homedir(), '.ig', 'config.json');
}

export function dockerConfigFile(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** The auth file to use: --authfile, then $REGISTRY_AUTH_FILE, then the default. */
export function chooseAuthFile(explicit?: string): { file: string; isDefault: boolean } {
  if (explicit) return { file: explicit, isDefault: false };
  if (process.env.REGISTRY_AUTH_FILE) return { file: process.env.REGISTRY_AUTH_FILE, isDefault: false };
  return { file: defaultAuthFile(), isDefault: true };
}

async function readAuthFile(file: string): Promise<AuthFileJson | undefined> {
  let raw: string;
  try {
    raw = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OciError(`cannot read auth file ${file}: ${(err as Error).message}`);
  }
  try {
    return raw.trim() ? (JSON.parse(raw) as AuthFileJson) : {};
  } catch {
    throw new OciError(`auth file ${file} is not valid JSON`);
  }
}

/** Keys a registry host may appear under in a config.json. docker.io is stored as index.docker.io. */
function candidateKeys(host: string): string[] {
  const h = host === 'docker.io' || host === 'registry-1.docker.io' ? 'index.docker.io' : host;
  const keys = [h, `https://${h}`, `http://${h}`, `https://${h}/v1/`, `https://${h}/v2/`];
  if (h === 'index.docker.io') keys.push('docker.io', 'https://index.docker.io/v1/');
  return keys;
}

function authKey(host: string): string {
  return host === 'docker.io' || host === 'registry-1.docker.io' ? 'index.docker.io' : host;
}

/**
 * Look up credentials for a registry host. The default auth file falls back to docker's config.json when it does
 * not exist (like upstream); an explicit file does not.
 */
export async function getCredentials(host: string, authFile?: string): Promise<Credentials | undefined> {
  const { file, isDefault } = chooseAuthFile(authFile);
  let cfg = await readAuthFile(file);
  if (!cfg && isDefault) cfg = await readAuthFile(dockerConfigFile());
  if (!cfg?.auths) return undefined;
  for (const k of candidateKeys(host)) {
    const e = cfg.auths[k];
    if (!e) continue;
    if (e.username && e.password) return { username: e.username, password: e.password };
    if (e.auth) {
      const dec = Buffer.from(e.auth, 'base64').toString('utf8');
      const i = dec.indexOf(':');
      if (i > 0) return { username: dec.slice(0, i), password: dec.slice(i + 1) };
    }
  }
  return undefined;
}

export async function saveCredentials(host: string, creds: Credentials, authFile?: string): Promise<string> {
  const { file } = chooseAuthFile(authFile);
  const cfg = (await readAuthFile(file)) ?? {};
  cfg.auths = cfg.auths ?? {};
  cfg.auths[authKey(host)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeAtomic(file, Buffer.from(JSON.stringify(cfg, null, '\t') + '\n'), 0o600);
  } catch (err) {
    throw new OciError(`cannot write auth file ${file}: ${(err as Error).message}`);
  }
  return file;
}

/** Remove stored credentials; returns false when there were none. */
export async function removeCredentials(host: string, authFile?: string): Promise<boolean> {
  const { file } = chooseAuthFile(authFile);
  const cfg = await readAuthFile(file);
  if (!cfg?.auths) return false;
  let found = false;
  for (const k of candidateKeys(host)) {
    if (cfg.auths[k]) {
      delete cfg.auths[k];
      found = true;
    }
  }
  if (!found) return false;
  try {
    await writeAtomic(file, Buffer.from(JSON.stringify(cfg, null, '\t') + '\n'), 0o600);
  } catch (err) {
    throw new OciError(`cannot write auth file ${file}: ${(err as Error).message}`);
  }
  return true;
}

/**
 * Extra CA certificates trusted for a registry: every *.crt in `<certDir>` (when given) and in the
 * containers/docker per-host directories /etc/containers/certs.d/<host>/ and /etc/docker/certs.d/<host>/.
 */
export async function registryCAs(host: string, certDir?: string): Promise<Buffer[]> {
  const dirs: string[] = [];
  const envDir = process.env.IG_REGISTRY_CERT_DIR;
  for (const d of [certDir, envDir]) {
    if (!d) continue;
    dirs.push(d, path.join(d, host));
  }
  dirs.push(path.join('/etc/containers/certs.d', host), path.join('/etc/docker/certs.d', host));
  const out: Buffer[] = [];
  // --cert-dir may also name a single PEM file
  for (const f of [certDir, envDir]) {
    if (!f) continue;
    try {
      if ((await fsp.stat(f)).isFile()) out.push(await fsp.readFile(f));
    } catch {
      /* missing: ignore */
    }
  }
  for (const d of dirs) {
    let names: string[];
    try {
      names = await fsp.readdir(d);
    } catch {
      continue;
    }
    for (const n of names.sort()) {
      if (!n.endsWith('.crt') && !n.endsWith('.pem')) continue;
      try {
        const b = await fsp.readFile(path.join(d, n));
        if (b.includes('-----BEGIN CERTIFICATE-----')) out.push(b);
      } catch {
        /* unreadable: ignore */
      }
    }
  }
  return out;
}
