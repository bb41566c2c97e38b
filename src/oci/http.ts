// Minimal HTTP(S) client for the registry API: redirects, custom CA roots; bodies either streamed to the caller or
// buffered up to a cap (checked against Content-Length first, then while reading).

import * as http from 'node:http';
import * as https from 'node:https';
import { trustedCas } from '../tls/extra-ca.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { OciError } from './errors.js';

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** extra trusted CA certificates (PEM), added to the system roots */
  ca?: Buffer[];
  timeoutMs?: number;
  maxRedirects?: number;
  /** upper bound on a buffered response body, default 4 MiB (tokens, errors, manifests) */
  maxBody?: number;
}

/** A request body: bytes, or a file streamed from disk (large blobs are never read into memory). */
export type RequestBody = Buffer | { file: string; size: number };

/** A response whose body has not been read yet: the caller must consume or destroy `stream`. */
export interface HttpStreamResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  stream: http.IncomingMessage;
  url: string;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  url: string;
}

export function header(res: Pick<HttpResponse, 'headers'>, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const res = await httpOpen(req);
  const { body } = await readBody(res, req.maxBody ?? DEFAULT_MAX_BODY, `response from ${new URL(res.url).host}`);
  return { status: res.status, headers: res.headers, body, url: res.url };
}

const DEFAULT_MAX_BODY = 4 << 20;

/**
 * Read a body into memory, at most `max` bytes (a larger Content-Length is refused before reading), computing its
 * sha256 while it arrives.
 */
export async function readBody(res: HttpStreamResponse, max: number, what: string, limit = `${max}-byte`): Promise<{ body: Buffer; digest: string }> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.stream.destroy();
    throw new OciError(`${what} is ${declared} bytes, more than the ${limit} limit`);
  }
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.stream as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > max) throw new OciError(`${what} is more than the ${limit} limit`);
      hash.update(c);
      chunks.push(c);
    }
  } catch (err) {
    res.stream.destroy();
    if (err instanceof OciError) throw err;
    throw new OciError(`${what}: ${(err as Error).message}`);
  }
  return { body: Buffer.concat(chunks, n), digest: `sha256:${hash.digest('hex')}` };
}

/** Send a request and follow redirects; the final response's body is left unread. */
export async function httpOpen(req: HttpRequest): Promise<HttpStreamResponse> {
  let url = new URL(req.url);
  let headers = { ...(req.headers ?? {}) };
  let method = req.method;
  let body = req.body;
  const origin = url.host;
  for (let hop = 0; hop <= (req.maxRedirects ?? 5); hop++) {
    const res = await once(method, url, headers, body, req);
    if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
      res.stream.resume(); // a redirect's body is never used
      const next = new URL(res.headers.location, url);
      if (next.host !== origin) {
        // never leak registry credentials to a storage backend on another host
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
      continue;
    }
    return res;
  }
  throw new OciError(`too many redirects from ${req.url}`);
}

function once(method: string, url: URL, headers: Record<string, string>, body: RequestBody | undefined, req: HttpRequest): Promise<HttpStreamResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const h: Record<string, string> = { 'user-agent': 'ig-ts/oci', ...headers };
    if (body) h['content-length'] = String(Buffer.isBuffer(body) ? body.length : body.size);
    else if (method === 'PUT' || method === 'POST' || method === 'PATCH') h['content-length'] = '0';
    const options: https.RequestOptions = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (isHttps ? 443 : 80),
      path: url.pathname + url.search,
      headers: h,
      timeout: req.timeoutMs ?? 60_000,
    };
    if (isHttps) {
      const ca = trustedCas(req.ca ?? []);
      if (ca) options.ca = ca;
    }
    if (isHttps) options.servername = /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname;
    const r = (isHttps ? https : http).request(options, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, stream: res, url: url.toString() });
    });
    r.on('timeout', () => r.destroy(new OciError(`timed out talking to ${url.host}`)));
    r.on('error', (err: NodeJS.ErrnoException) => reject(networkError(url, err)));
    if (Buffer.isBuffer(body)) r.end(body);
    else if (body) {
      const file = createReadStream(body.file);
      file.on('error', (err) => r.destroy(new OciError(`cannot read ${body.file}: ${err.message}`)));
      file.pipe(r);
    } else r.end();
  });
}

function networkError(url: URL, err: NodeJS.ErrnoException): OciError {
  if (err instanceof OciError) return err;
  const code = err.code ?? '';
  let why = err.message;
  if (code === 'ECONNREFUSED') why = 'connection refused';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') why = 'host not found';
  else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) why = `TLS certificate not trusted (${code}); pass the registry's CA with --cert-dir`;
  else if (code === 'EPROTO' || /wrong version number/i.test(err.message)) why = `TLS handshake failed (${err.message.split('\n')[0]}); is it a plain-HTTP registry? see --insecure-registries`;
  return new OciError(`cannot reach ${url.protocol}//${url.host}: ${why}`);
}
