// A FAKE registry for hostile-input tests: a tiny HTTP server on 127.0.0.1 that answers the distribution API with
// whatever a test crafts (bad digests, huge or endless bodies, lying sizes, deep index nesting). A real registry
// refuses to store such content, so it cannot serve these cases; everything well-formed is tested against the
// real Debian docker-registry (test/harness/registry.ts).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';

/** What the fake answers for one path: a body (with optional headers), or a handler writing the response. */
export type FakeRoute = { body: Buffer; headers?: Record<string, string> } | ((req: IncomingMessage, res: ServerResponse) => void);

export interface FakeRegistry {
  host: string;
  routes: Map<string, FakeRoute>;
  /** paths requested, in order */
  requests: string[];
  stop(): Promise<void>;
}

export const MT_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_CONFIG = 'application/vnd.gadget.config.v1+yaml';
export const MT_EBPF = 'application/vnd.gadget.ebpf.program.v1+binary';

export function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const routes = new Map<string, FakeRoute>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const p = (req.url ?? '').split('?')[0];
    requests.push(p);
    if (p === '/v2/' || p === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const r = routes.get(p);
    if (!r) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
      return;
    }
    if (typeof r === 'function') return r(req, res);
    res.writeHead(200, { 'content-length': String(r.body.length), ...(r.headers ?? {}) });
    res.end(req.method === 'HEAD' ? undefined : r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    routes,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serve a JSON document as a manifest (by tag and by its digest); returns its descriptor. */
export function serveManifest(f: FakeRegistry, repo: string, doc: unknown, mediaType: string, tag?: string): { mediaType: string; digest: string; size: number } {
  const body = Buffer.from(JSON.stringify(doc));
  const digest = sha256(body);
  const route = { body, headers: { 'content-type': mediaType, 'docker-content-digest': digest } };
  f.routes.set(`/v2/${repo}/manifests/${digest}`, route);
  if (tag) f.routes.set(`/v2/${repo}/manifests/${tag}`, route);
  return { mediaType, digest, size: body.length };
}

export function serveBlob(f: FakeRegistry, repo: string, data: Buffer, mediaType: string): { mediaType: string; digest: string; size: number } {
  const digest = sha256(data);
  f.routes.set(`/v2/${repo}/blobs/${digest}`, { body: data });
  return { mediaType, digest, size: data.length };
}

/** A gadget image (index → amd64 manifest → config + eBPF layer) whose layer descriptor the test may tamper with. */
export function serveGadget(f: FakeRegistry, repo: string, tag: string, layer: { mediaType: string; digest: string; size: number }): string {
  const config = serveBlob(f, repo, Buffer.from('name: fake\n'), MT_CONFIG);
  const m = serveManifest(f, repo, { schemaVersion: 2, mediaType: MT_MANIFEST, config, layers: [layer] }, MT_MANIFEST);
  const idx = serveManifest(f, repo, { schemaVersion: 2, mediaType: MT_INDEX, manifests: [{ ...m, platform: { architecture: 'amd64', os: 'linux' } }] }, MT_INDEX, tag);
  return idx.digest;
}

/**
 * Stream `size` bytes of a deterministic pattern (block i is the sha256 of i, repeated), chunk by chunk, without
 * holding them; `digestOfPattern` computes the digest the same way.
 */
export function patternChunks(size: number, chunk = 1 << 20): Generator<Buffer> {
  return (function* () {
    const block = Buffer.alloc(chunk);
    for (let off = 0, i = 0; off < size; off += chunk, i++) {
      const seed = createHash('sha256').update(String(i)).digest();
      for (let j = 0; j < chunk; j += 32) seed.copy(block, j);
      yield off + chunk <= size ? block : block.subarray(0, size - off);
    }
  })();
}

export function digestOfPattern(size: number): string {
  const h = createHash('sha256');
  for (const c of patternChunks(size)) h.update(c);
  return 'sha256:' + h.digest('hex');
}

/** A route that writes the pattern with back-pressure; `delayMs` between chunks makes a slow registry. */
export function streamPattern(size: number, headers: Record<string, string> = {}, delayMs = 0): FakeRoute {
  return (_req, res) => {
    res.writeHead(200, headers);
    const it = patternChunks(size);
    const pump = (): void => {
      for (;;) {
        if (res.destroyed) return;
        const n = it.next();
        if (n.done) {
          res.end();
          return;
        }
        // copy: the generator reuses its block
        const ok = res.write(Buffer.from(n.value));
        if (delayMs) {
          setTimeout(pump, delayMs);
          return;
        }
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
    };
    res.on('error', () => undefined); // the client hanging up is what several tests do on purpose
    pump();
  };
}
