// OCI distribution API client: manifests and blobs, anonymous / basic / bearer-token auth, custom CAs and
// plain-HTTP "insecure" registries (which never receive credentials).

import { OciError } from './errors.js';
import { httpOpen, httpRequest, readBody, header, type HttpResponse, type HttpStreamResponse, type RequestBody } from './http.js';
import { getCredentials, registryCAs, type Credentials } from './auth.js';
import { checkDigest } from './descriptor.js';
import { MAX_MANIFEST_BYTES, mib } from './limits.js';
import { MANIFEST_ACCEPT } from './mediatypes.js';

export interface RegistryOptions {
  insecureRegistries?: string[];
  authFile?: string;
  /** directory with ca.crt (or any *.crt) for the registry, like skopeo's --cert-dir */
  certDir?: string;
  /** explicit credentials (e.g. `ig login -u/-p`); otherwise they come from the auth file */
  credentials?: Credentials;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(h: string | undefined): Challenge | undefined {
  if (!h) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]))) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

export function isInsecure(host: string, list: string[] | undefined): boolean {
  return !!list?.some((e) => {
    const v = e.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    return v === host;
  });
}

export class RegistryClient {
  readonly host: string;
  readonly insecure: boolean;
  private readonly apiHost: string;
  private ca: Buffer[] | undefined;
  private creds: Credentials | undefined | null = null; // null: not loaded yet
  private tokens = new Map<string, string>();
  private basic = false;

  constructor(host: string, private readonly opts: RegistryOptions = {}) {
    this.host = host;
    this.insecure = isInsecure(host, opts.insecureRegistries);
    this.apiHost = host === 'docker.io' ? 'registry-1.docker.io' : host;
  }

  private get base(): string {
    return `${this.insecure ? 'http' : 'https'}://${this.apiHost}`;
  }

  private async credentials(): Promise<Credentials | undefined> {
    if (this.insecure) return undefined;
    if (this.creds === null) this.creds = this.opts.credentials ?? (await getCredentials(this.host, this.opts.authFile));
    return this.creds;
  }

  private async cas(): Promise<Buffer[]> {
    if (!this.ca) this.ca = await registryCAs(this.apiHost, this.opts.certDir);
    return this.ca;
  }

  /** Send a request, answering 401 challenges (Basic or Bearer) once; the body is buffered (small answers only). */
  async request(method: string, pathOrUrl: string, o: { headers?: Record<string, string>; body?: RequestBody; scope?: string } = {}): Promise<HttpResponse> {
    const res = await this.requestStream(method, pathOrUrl, o);
    const { body } = await readBody(res, 4 << 20, `response from ${this.host}`);
    return { status: res.status, headers: res.headers, body, url: res.url };
  }

  /** Like request(), but the final response's body is left to the caller (who must consume or destroy it). */
  async requestStream(method: string, pathOrUrl: string, o: { headers?: Record<string, string>; body?: RequestBody; scope?: string } = {}): Promise<HttpStreamResponse> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.base + pathOrUrl;
    const ca = await this.cas();
    const send = async (auth?: string) => {
      const headers = { ...(o.headers ?? {}) };
      if (auth) headers.authorization = auth;
      return httpOpen({ method, url, headers, body: o.body, ca });
    };
    let auth = await this.cachedAuth(o.scope);
    let res = await send(auth);
    if (res.status !== 401) return res;
    res.stream.resume(); // the challenge is in the headers; the body is not needed
    const ch = parseChallenge(header(res, 'www-authenticate'));
    if (!ch) return res;
    const creds = await this.credentials();
    if (ch.scheme === 'basic') {
      if (!creds) throw this.authError('requires credentials');
      this.basic = true;
      auth = basicAuth(creds);
    } else if (ch.scheme === 'bearer') {
      const scope = ch.params.scope ?? o.scope;
      const token = await this.fetchToken(ch.params, scope, creds);
      if (o.scope) this.tokens.set(o.scope, token);
      if (scope) this.tokens.set(scope, token);
      auth = `Bearer ${token}`;
    } else {
      throw this.authError(`asks for unsupported authentication "${ch.scheme}"`);
    }
    res = await send(auth);
    if (res.status === 401) {
      res.stream.resume();
      throw this.authError(creds ? 'rejected the credentials' : 'requires credentials');
    }
    return res;
  }

  private authError(what: string): OciError {
    if (this.insecure) return new OciError(`registry ${this.host} ${what}, but insecure (plain HTTP) registries are accessed without credentials`);
    return new OciError(`registry ${this.host} ${what}; run "ig login ${this.host}" or pass --authfile`);
  }

  private async cachedAuth(scope?: string): Promise<string | undefined> {
    if (scope && this.tokens.has(scope)) return `Bearer ${this.tokens.get(scope)}`;
    if (this.basic) {
      const c = await this.credentials();
      if (c) return basicAuth(c);
    }
    return undefined;
  }

  private async fetchToken(params: Record<string, string>, scope: string | undefined, creds: Credentials | undefined): Promise<string> {
    if (!params.realm) throw new OciError(`registry ${this.host} sent a Bearer challenge without a realm`);
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    if (scope) for (const s of scope.split(' ')) u.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds) headers.authorization = basicAuth(creds);
    const res = await httpRequest({ method: 'GET', url: u.toString(), headers, ca: await this.cas() });
    if (res.status === 401 || res.status === 403) throw this.authError(creds ? 'token service rejected the credentials' : 'token service requires credentials');
    if (res.status !== 200) throw new OciError(`token request to ${u.host} failed: HTTP ${res.status}`);
    let j: { token?: string; access_token?: string };
    try {
      j = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new OciError(`token service ${u.host} returned invalid JSON`);
    }
    const t = j.token ?? j.access_token;
    if (!t) throw new OciError(`token service ${u.host} returned no token`);
    return t;
  }

  /** GET /v2/ – checks reachability and credentials (used by `ig login`). */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/');
    if (res.status !== 200) throw new OciError(`registry ${this.host}: unexpected HTTP ${res.status} from /v2/`);
  }

  /**
   * A manifest or index by tag or digest: at most 4 MiB (refused from Content-Length, else while reading), digest
   * computed while it arrives and checked against the requested digest, the announced one and `expectedSize`.
   */
  async getManifest(repo: string, ref: string, push = false, expectedSize?: number): Promise<{ body: Buffer; mediaType: string; digest: string } | undefined> {
    if (ref.startsWith('sha256:')) checkDigest(ref, `manifest ${repo}@${ref.slice(0, 80)}`);
    const res = await this.requestStream('GET', `/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT }, scope: scopeOf(repo, push) });
    if (res.status === 404) {
      res.stream.resume();
      return undefined;
    }
    if (res.status !== 200) throw this.httpError(await this.buffered(res), `fetching manifest ${repo}:${ref}`);
    const { body, digest } = await readBody(res, MAX_MANIFEST_BYTES, `manifest ${repo}:${ref} from ${this.host}`, mib(MAX_MANIFEST_BYTES));
    if (ref.startsWith('sha256:') && digest !== ref) {
      throw new OciError(`manifest ${repo}@${ref} from ${this.host} does not match its digest (got ${digest}): refusing tampered content`);
    }
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new OciError(`manifest ${repo}:${ref} from ${this.host} does not match the digest the registry announced`);
    }
    if (expectedSize !== undefined && body.length !== expectedSize) {
      throw new OciError(`manifest ${repo}@${ref} from ${this.host} has ${body.length} bytes, its descriptor says ${expectedSize}`);
    }
    let mediaType = (header(res, 'content-type') ?? '').split(';')[0].trim();
    try {
      const j = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
      if (typeof j.mediaType === 'string' && j.mediaType) mediaType = j.mediaType;
    } catch {
      throw new OciError(`manifest ${repo}:${ref} from ${this.host} is not valid JSON`);
    }
    return { body, mediaType, digest };
  }

  /**
   * The referrers API (OCI distribution 1.1): an index of the manifests whose subject is `digest`. Undefined when
   * the registry does not offer it (404), so the caller falls back to the referrers tag schema.
   */
  async getReferrers(repo: string, digest: string): Promise<Buffer | undefined> {
    checkDigest(digest, `referrers of ${repo}`);
    const res = await this.requestStream('GET', `/v2/${repo}/referrers/${digest}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' }, scope: scopeOf(repo, false) });
    if (res.status === 404 || res.status === 400 || res.status === 405) {
      res.stream.resume();
      return undefined;
    }
    if (res.status !== 200) throw this.httpError(await this.buffered(res), `fetching referrers of ${repo}@${digest}`);
    const { body } = await readBody(res, MAX_MANIFEST_BYTES, `referrers of ${repo}@${digest} from ${this.host}`, mib(MAX_MANIFEST_BYTES));
    return body;
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    checkDigest(digest, `blob in ${repo}`);
    const res = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { scope: scopeOf(repo, true) });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw this.httpError(res, `checking blob ${digest}`);
  }

  /**
   * Open a blob for streaming. A Content-Length that differs from the descriptor's size is refused before any byte
   * is read; the caller checks size and digest while consuming `stream` (see StoreTxn.stageStream).
   */
  async openBlob(repo: string, digest: string, size: number): Promise<HttpStreamResponse> {
    checkDigest(digest, `blob in ${repo}`);
    const res = await this.requestStream('GET', `/v2/${repo}/blobs/${digest}`, { scope: scopeOf(repo, false) });
    if (res.status === 404) {
      res.stream.resume();
      throw new OciError(`blob ${digest} not found in ${this.host}/${repo}`);
    }
    if (res.status !== 200) throw this.httpError(await this.buffered(res), `fetching blob ${digest}`);
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared !== size) {
      res.stream.destroy();
      throw new OciError(`blob ${digest} from ${this.host}/${repo} is ${declared} bytes, its descriptor says ${size}: refusing it`);
    }
    return res;
  }

  private async buffered(res: HttpStreamResponse): Promise<HttpResponse> {
    const { body } = await readBody(res, 64 << 10, `error response from ${this.host}`).catch(() => ({ body: Buffer.alloc(0) })); // the status alone still makes the error
    return { status: res.status, headers: res.headers, body, url: res.url };
  }

  /** Upload a blob (monolithic PUT); `data` may name a file, which is streamed. */
  async putBlob(repo: string, digest: string, data: RequestBody): Promise<void> {
    checkDigest(digest, `blob for ${repo}`);
    const scope = scopeOf(repo, true);
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { scope });
    if (start.status !== 202) throw this.httpError(start, `starting upload of ${digest}`);
    const loc = header(start, 'location');
    if (!loc) throw new OciError(`registry ${this.host} gave no upload location`);
    const u = new URL(loc, this.base + '/');
    u.searchParams.set('digest', digest);
    const res = await this.request('PUT', u.toString(), {
      scope,
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (res.status !== 201) throw this.httpError(res, `uploading blob ${digest}`);
  }

  async putManifest(repo: string, ref: string, mediaType: string, body: Buffer): Promise<void> {
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, {
      scope: scopeOf(repo, true),
      body,
      headers: { 'content-type': mediaType },
    });
    if (res.status !== 201 && res.status !== 200) throw this.httpError(res, `pushing manifest ${repo}:${ref}`);
  }

  private httpError(res: HttpResponse, what: string): OciError {
    let detail = '';
    try {
      const j = JSON.parse(res.body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
      if (j.errors?.length) detail = ': ' + j.errors.map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ');
    } catch {
      /* not JSON */
    }
    if (res.status === 403) return new OciError(`${what} on ${this.host}: access denied${detail}`);
    return new OciError(`${what} on ${this.host}: HTTP ${res.status}${detail}`);
  }
}

function scopeOf(repo: string, push: boolean): string {
  return `repository:${repo}:${push ? 'pull,push' : 'pull'}`;
}

function basicAuth(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}
