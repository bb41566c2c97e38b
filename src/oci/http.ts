// Minimal HTTP(S) client for the registry API: buffered bodies, redirects, custom CA roots.

import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { OciError } from './errors.js';

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** extra trusted CA certificates (PEM), added to the system roots */
  ca?: Buffer[];
  timeoutMs?: number;
  maxRedirects?: number;
  /** upper bound on the response body, default 1 GiB */
  maxBody?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  url: string;
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  let url = new URL(req.url);
  let headers = { ...(req.headers ?? {}) };
  let method = req.method;
  let body = req.body;
  const origin = url.host;
  for (let hop = 0; hop <= (req.maxRedirects ?? 5); hop++) {
    const res = await once(method, url, headers, body, req);
    if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
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

function once(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined, req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const h: Record<string, string> = { 'user-agent': 'ig-ts/oci', ...headers };
    if (body) h['content-length'] = String(body.length);
    else if (method === 'PUT' || method === 'POST' || method === 'PATCH') h['content-length'] = '0';
    const options: https.RequestOptions = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (isHttps ? 443 : 80),
      path: url.pathname + url.search,
      headers: h,
      timeout: req.timeoutMs ?? 60_000,
    };
    if (isHttps && req.ca?.length) options.ca = [...tls.rootCertificates, ...req.ca.map((c) => c.toString('utf8'))];
    if (isHttps) options.servername = /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname;
    const r = (isHttps ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      const max = req.maxBody ?? 1 << 30;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) {
          res.destroy(new OciError(`response from ${url.host} is larger than ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url: url.toString() }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new OciError(`timed out talking to ${url.host}`)));
    r.on('error', (err: NodeJS.ErrnoException) => reject(networkError(url, err)));
    if (body) r.end(body);
    else r.end();
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
