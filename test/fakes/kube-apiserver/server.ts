// FAKE Kubernetes API server (no real one can be installed here: it is in neither Debian nor npm). It speaks the
// real protocol over HTTPS with a generated CA and bearer-token auth, so @kubernetes/client-node connects to it
// with an ordinary kubeconfig or in-cluster service-account files:
//   - discovery (/api, /apis, /api/v1, /apis/<group>/<version>, /version);
//   - list (labelSelector, fieldSelector, limit/continue) and watch (resourceVersion, chunked JSON lines,
//     ADDED/MODIFIED/DELETED, BOOKMARK with allowWatchBookmarks, objects entering/leaving a selector become
//     ADDED/DELETED, 410 Gone as an ERROR event after compaction, timeoutSeconds);
//   - get/create/update/patch (merge, strategic-as-merge, JSON patch, apply-as-merge)/delete with garbage
//     collection through ownerReferences; the status subresource;
//   - RBAC-forbidden answers injected per verb/resource/namespace (403 with a real Status object);
//   - the pod port-forward subresource over WebSocket (v4.channel.k8s.io: data and error channel per port, each
//     opened with the 2-byte little-endian port), bridged to a TCP address or unix socket the test registers.
// Tests drive it in process (startFakeKubeApiServer) or as a separate process (cli.ts) through /__fake/ admin
// requests (FakeKubeControl); both offer the same KubeFakeControl interface.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { parse as parseYaml } from 'yaml';
import { makeServingCerts } from './certs.js';
import { jsonPatch, mergePatch } from './patch.js';
import { RESOURCES, apiGroupList, apiResourceList, findResource, groupVersion, resourceForKind, resourceKey, type ResourceType } from './resources.js';
import { SelectorError, parseFieldSelector, parseLabelSelector, type KubeObject, type Matcher } from './selectors.js';
import { ObjectStore, StoreError, notFound, type Change } from './store.js';

export type { KubeObject } from './selectors.js';

/** Where a pod's forwarded port goes: a TCP address or a unix socket (e.g. the ig daemon of that "node"). */
export type ForwardTarget = { host: string; port: number } | { path: string };

/** Answer requests matching this with 403 Forbidden. Omitted parts match anything. */
export interface ForbidRule {
  /** get, list, watch, create, update, patch, delete, deletecollection. */
  verb?: string;
  /** Plural with group: `pods`, `apps/replicasets`, `pods/portforward`. */
  resource: string;
  namespace?: string;
}

export interface RequestRecord { method: string; path: string; query: Record<string, string>; verb: string; status: number }

export interface FakeKubeApiServerOptions {
  /** Objects present at start (any served kind; namespaces they use are created). */
  objects?: KubeObject[];
  /** Directory for certificates, kubeconfig and service-account files (default: a new temp dir, removed on stop). */
  dir?: string;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  port?: number;
  /** More subjectAltNames for the serving certificate (addresses the server is reached at). */
  sans?: string[];
  token?: string;
  /** The user RBAC messages name. */
  user?: string;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms; the real server: ~1 min). */
  bookmarkIntervalMs?: number;
  /** Changes kept for watches to resume from (default 10000). */
  historySize?: number;
}

/** What tests do to the fake, the same in process and across processes. */
export interface KubeFakeControl {
  /** Create or replace (no resourceVersion check) an object; its namespace is created if missing. */
  apply(obj: KubeObject): Promise<KubeObject>;
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void>;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
  forbid(rule: ForbidRule): Promise<void>;
  /** Drop the forbid rules equal to `rule`. */
  allow(rule: ForbidRule): Promise<void>;
  allowAll(): Promise<void>;
  /** Forget history and end open watches: clients that resume get 410 Gone and must re-list. */
  expireWatches(): Promise<void>;
  /** End open watches without expiring (clients resume from their resourceVersion). */
  closeWatches(): Promise<void>;
  /** Send a BOOKMARK on every watch that allows them, now. */
  bookmark(): Promise<void>;
  setPortForward(namespace: string, pod: string, target: ForwardTarget | null, port?: number): Promise<void>;
  requests(): Promise<RequestRecord[]>;
  watchCount(): Promise<number>;
}

export interface FakeKubeApiServer extends KubeFakeControl {
  url: string;
  host: string;
  port: number;
  token: string;
  caPath: string;
  dir: string;
  kubeconfigPath: string;
  /** Prefix for KubeConfig.loadFromCluster(prefix): `<prefix>/var/run/secrets/kubernetes.io/serviceaccount/...`. */
  inClusterPrefix: string;
  /** KUBERNETES_SERVICE_HOST/PORT for in-cluster clients. */
  inClusterEnv: Record<string, string>;
  stop(): Promise<void>;
}

const SA_DIR = 'var/run/secrets/kubernetes.io/serviceaccount';
const LIST_KIND_SUFFIX = 'List';

function status(code: number, reason: string, message: string, details?: object): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

interface Route { t: ResourceType; namespace?: string; name?: string; sub?: string }

/** `/api/v1/namespaces/x/pods/y/status` → the resource, namespace, name and subresource. */
function route(pathname: string): Route | 'discovery' | undefined {
  const segs = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs[1]) { version = segs[1]; rest = segs.slice(2); }
  else if (segs[0] === 'apis' && segs[1] && segs[2]) { group = segs[1]; version = segs[2]; rest = segs.slice(3); }
  else return undefined;
  if (rest.length === 0) return 'discovery';
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const t = findResource(group, version, rest[2]!);
    if (t?.namespaced) { namespace = rest[1]; rest = rest.slice(2); }
  }
  const t = findResource(group, version, rest[0]!);
  if (!t || rest.length > 3) return undefined;
  if (namespace === undefined && t.namespaced && rest.length > 1) return undefined;
  return { t, namespace, name: rest[1], sub: rest[2] };
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What a list item looks like: typed lists carry no kind/apiVersion on items. */
function listItem(o: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest as KubeObject;
}

interface OpenWatch { res: ServerResponse; t: ResourceType; bookmarks: boolean; end(): void }

export class FakeKubeApiServerImpl implements FakeKubeApiServer {
  url = '';
  host: string;
  port = 0;
  token: string;
  caPath = '';
  dir: string;
  kubeconfigPath = '';
  inClusterPrefix = '';
  inClusterEnv: Record<string, string> = {};
  readonly store: ObjectStore;
  private server?: Server;
  private wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : p.has('portforward.k8s.io') ? 'portforward.k8s.io' : false) });
  private forbidden: ForbidRule[] = [];
  private forwards = new Map<string, ForwardTarget>();
  private watches = new Set<OpenWatch>();
  private log: RequestRecord[] = [];
  private ownDir: boolean;
  private user: string;
  private bookmarkMs: number;
  private sockets = new Set<Socket | Duplex>();

  constructor(private readonly opts: FakeKubeApiServerOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.token = opts.token ?? 'fake-kube-token-ig-tests';
    this.user = opts.user ?? 'system:serviceaccount:gadget:gadget';
    this.bookmarkMs = opts.bookmarkIntervalMs ?? 1000;
    this.ownDir = !opts.dir;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ig-fake-kube-'));
    this.store = new ObjectStore(opts.historySize);
  }

  async start(): Promise<this> {
    mkdirSync(this.dir, { recursive: true });
    const certs = makeServingCerts(this.dir, [this.host, ...(this.opts.sans ?? [])]);
    this.caPath = certs.caPath;
    // A cluster has these before anyone asks.
    for (const ns of ['default', 'kube-system', 'kube-public']) this.applySync({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    this.applySync({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] } });
    for (const o of this.opts.objects ?? []) this.applySync(o);
    const server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => { this.handle(req, res).catch((e: unknown) => { if (!res.headersSent) sendJson(res, 500, status(500, 'InternalError', String(e))); else res.destroy(); }); });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    server.on('secureConnection', (s: Socket) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(this.opts.port ?? 0, this.host, () => resolve()); });
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    const hostPart = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.url = `https://${hostPart}:${this.port}`;
    this.writeClientFiles(certs.ca);
    return this;
  }

  private writeClientFiles(ca: Buffer): void {
    this.kubeconfigPath = join(this.dir, 'kubeconfig');
    writeFileSync(this.kubeconfigPath, [
      'apiVersion: v1', 'kind: Config', 'clusters:', '- name: fake-cluster', '  cluster:',
      `    server: ${this.url}`, `    certificate-authority-data: ${ca.toString('base64')}`,
      'users:', '- name: fake-user', '  user:', `    token: ${this.token}`,
      'contexts:', '- name: fake', '  context:', '    cluster: fake-cluster', '    user: fake-user', '    namespace: default',
      'current-context: fake', '',
    ].join('\n'));
    this.inClusterPrefix = join(this.dir, 'incluster');
    const sa = join(this.inClusterPrefix, SA_DIR);
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), this.token);
    writeFileSync(join(sa, 'ca.crt'), ca);
    writeFileSync(join(sa, 'namespace'), 'gadget');
    this.inClusterEnv = { KUBERNETES_SERVICE_HOST: this.host, KUBERNETES_SERVICE_PORT: String(this.port) };
  }

  async stop(): Promise<void> {
    for (const w of [...this.watches]) w.end();
    for (const c of this.wss.clients) c.terminate();
    for (const s of this.sockets) s.destroy();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
      this.server = undefined;
    }
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- control (in process) ----

  private typeOf(o: { apiVersion?: string; kind?: string }): ResourceType {
    const t = resourceForKind(o.apiVersion ?? '', o.kind ?? '');
    if (!t) throw new Error(`fake kube-apiserver: unknown apiVersion/kind ${o.apiVersion}/${o.kind}`);
    return t;
  }

  applySync(obj: KubeObject): KubeObject {
    const t = this.typeOf(obj);
    const ns = t.namespaced ? obj.metadata.namespace || 'default' : undefined;
    if (ns && !this.store.get(resourceForKind('v1', 'Namespace')!, '', ns)) this.applySync({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const cur = this.store.get(t, ns ?? '', obj.metadata.name ?? '');
    if (!cur) return this.store.create(t, { ...obj, metadata: { ...obj.metadata, ...(ns ? { namespace: ns } : {}) } });
    return this.store.update(t, { ...obj, metadata: { ...obj.metadata, namespace: ns, resourceVersion: undefined } });
  }

  async apply(obj: KubeObject): Promise<KubeObject> { return this.applySync(obj); }

  async remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void> {
    const t = this.typeOf({ apiVersion, kind });
    this.store.delete(t, namespace ?? '', name, (o) => resourceForKind(o.apiVersion ?? '', o.kind ?? ''));
  }

  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    return this.store.get(this.typeOf({ apiVersion, kind }), namespace ?? '', name);
  }

  async forbid(rule: ForbidRule): Promise<void> { this.forbidden.push(rule); }
  async allow(rule: ForbidRule): Promise<void> {
    this.forbidden = this.forbidden.filter((r) => !(r.verb === rule.verb && r.resource === rule.resource && r.namespace === rule.namespace));
  }
  async allowAll(): Promise<void> { this.forbidden = []; }

  async expireWatches(): Promise<void> {
    this.store.compact();
    await this.closeWatches();
  }

  async closeWatches(): Promise<void> { for (const w of [...this.watches]) w.end(); }

  async bookmark(): Promise<void> {
    for (const w of this.watches) if (w.bookmarks) this.writeBookmark(w);
  }

  async setPortForward(namespace: string, pod: string, target: ForwardTarget | null, port?: number): Promise<void> {
    const k = `${namespace}/${pod}/${port ?? '*'}`;
    if (target) this.forwards.set(k, target);
    else this.forwards.delete(k);
  }

  async requests(): Promise<RequestRecord[]> { return [...this.log]; }
  async watchCount(): Promise<number> { return this.watches.size; }

  // ---- HTTP ----

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.token}`;
  }

  private forbiddenFor(verb: string, t: ResourceType | string, namespace: string | undefined, name?: string): object | undefined {
    const plural = typeof t === 'string' ? t : resourceKey(t);
    const rule = this.forbidden.find((r) => (!r.verb || r.verb === verb) && r.resource === plural && (r.namespace === undefined || r.namespace === namespace));
    if (!rule) return undefined;
    const [group, res] = plural.includes('/') && !plural.startsWith('pods/') ? plural.split('/', 2) as [string, string] : ['', plural];
    const what = `${res.split('/')[0]}${group ? `.${group}` : ''}${name ? ` "${name}"` : ''}`;
    const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    return status(403, 'Forbidden', `${what} is forbidden: User "${this.user}" cannot ${verb} resource "${res}" in API group "${group}" ${scope}`, { ...(name ? { name } : {}), ...(group ? { group } : {}), kind: res.split('/')[0] });
  }

  private record(req: IncomingMessage, url: URL, verb: string, code: number): void {
    this.log.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), verb, status: code });
    if (this.log.length > 2000) this.log.splice(0, this.log.length - 2000);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://fake');
    const reply = (verb: string, code: number, body: unknown) => { this.record(req, url, verb, code); sendJson(res, code, body); };
    if (!this.authorized(req)) return reply('', 401, status(401, 'Unauthorized', 'Unauthorized'));
    if (url.pathname.startsWith('/__fake/')) return this.admin(req, res, url.pathname.slice('/__fake/'.length));
    if (['/healthz', '/readyz', '/livez'].includes(url.pathname)) { this.record(req, url, 'get', 200); res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('ok'); return; }
    if (url.pathname === '/version') return reply('get', 200, { major: '1', minor: '30', gitVersion: 'v1.30.0-fake', platform: 'linux/amd64' });
    if (url.pathname === '/api') return reply('get', 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }] });
    if (url.pathname === '/apis') return reply('get', 200, apiGroupList());
    const r = route(url.pathname);
    if (r === 'discovery') {
      const segs = url.pathname.split('/').filter(Boolean);
      const list = segs[0] === 'api' ? apiResourceList('', segs[1]!) : apiResourceList(segs[1]!, segs[2]!);
      return list ? reply('get', 200, list) : reply('get', 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    if (!r) return reply('', 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const { t, namespace, name, sub } = r;
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    const verb = name === undefined
      ? (method === 'GET' ? (watch ? 'watch' : 'list') : method === 'POST' ? 'create' : method === 'DELETE' ? 'deletecollection' : '')
      : ({ GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete', POST: 'create' } as Record<string, string>)[method] ?? '';
    if (!verb) return reply(verb, 405, status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
    if (sub === 'portforward') return reply(verb, 400, status(400, 'BadRequest', 'Upgrade request required'));
    if (sub !== undefined && sub !== 'status') return reply(verb, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const denied = this.forbiddenFor(verb, t, namespace, name);
    if (denied) return reply(verb, 403, denied);
    try {
      if (name === undefined) {
        if (verb === 'watch' || verb === 'list') {
          let match: Matcher;
          try { match = this.matcher(t, q); } catch (e) {
            if (e instanceof SelectorError) return reply(verb, 400, status(400, 'BadRequest', e.message));
            throw e;
          }
          if (verb === 'watch') { this.record(req, url, verb, 200); return this.serveWatch(req, res, t, namespace, match, q); }
          return reply(verb, 200, this.serveList(t, namespace, match, q));
        }
        if (verb === 'create') {
          const body = JSON.parse(await readBody(req)) as KubeObject;
          if (t.namespaced) { body.metadata ??= {}; body.metadata.namespace = namespace ?? body.metadata.namespace; }
          if (q.get('dryRun') === 'All') return reply(verb, 201, { ...body, apiVersion: groupVersion(t), kind: t.kind });
          return reply(verb, 201, this.store.create(t, body, { requireNamespace: true }));
        }
        // deletecollection
        let match: Matcher;
        try { match = this.matcher(t, q); } catch (e) {
          if (e instanceof SelectorError) return reply(verb, 400, status(400, 'BadRequest', e.message));
          throw e;
        }
        const gone = this.store.list(t, namespace, match).map((o) => this.store.delete(t, o.metadata.namespace ?? '', o.metadata.name!, (x) => resourceForKind(x.apiVersion ?? '', x.kind ?? '')));
        return reply(verb, 200, { kind: `${t.kind}${LIST_KIND_SUFFIX}`, apiVersion: groupVersion(t), metadata: { resourceVersion: String(this.store.resourceVersion) }, items: gone.map(listItem) });
      }
      const ns = namespace ?? '';
      switch (verb) {
        case 'get': {
          const o = this.store.get(t, ns, name);
          return o ? reply(verb, 200, o) : reply(verb, 404, status(404, 'NotFound', notFound(t, name).message, { name, group: t.group, kind: t.name }));
        }
        case 'update': {
          const body = JSON.parse(await readBody(req)) as KubeObject;
          if (body.metadata?.name && body.metadata.name !== name) return reply(verb, 400, status(400, 'BadRequest', `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`));
          body.metadata = { ...body.metadata, name, ...(t.namespaced ? { namespace: ns } : {}) };
          const cur = this.store.get(t, ns, name);
          // Writing the main resource keeps status, writing /status keeps spec (as the real server).
          if (cur && sub === 'status') body.spec = cur.spec;
          else if (cur && t.kind !== 'Namespace' && cur.status !== undefined) body.status = cur.status;
          return reply(verb, 200, this.store.update(t, body));
        }
        case 'patch': {
          const cur = this.store.get(t, ns, name);
          if (!cur) return reply(verb, 404, status(404, 'NotFound', notFound(t, name).message, { name, group: t.group, kind: t.name }));
          const text = await readBody(req);
          const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
          let next: unknown;
          try {
            if (type === 'application/json-patch+json') next = jsonPatch(cur as never, JSON.parse(text));
            else if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') next = mergePatch(cur as never, JSON.parse(text));
            else if (type === 'application/apply-patch+yaml') next = mergePatch(cur as never, parseYaml(text));
            else return reply(verb, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`));
          } catch (e) {
            return reply(verb, 422, status(422, 'Invalid', `the patch could not be applied: ${(e as Error).message}`));
          }
          const o = next as KubeObject;
          o.metadata = { ...o.metadata, name, resourceVersion: undefined };
          return reply(verb, 200, this.store.update(t, o));
        }
        case 'delete': {
          const o = this.store.delete(t, ns, name, (x) => resourceForKind(x.apiVersion ?? '', x.kind ?? ''));
          return reply(verb, 200, o);
        }
        default:
          return reply(verb, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
      }
    } catch (e) {
      if (e instanceof StoreError) return reply(verb, e.code, status(e.code, e.reason, e.message, e.details));
      if (e instanceof SyntaxError) return reply(verb, 400, status(400, 'BadRequest', `the request body is not valid JSON: ${e.message}`));
      throw e;
    }
  }

  private matcher(t: ResourceType, q: URLSearchParams): Matcher {
    const tests: Matcher[] = [];
    const ls = q.get('labelSelector');
    if (ls) tests.push(parseLabelSelector(ls));
    const fs = q.get('fieldSelector');
    if (fs) tests.push(parseFieldSelector(fs, ['metadata.name', 'metadata.namespace', ...t.fields]));
    return (o) => tests.every((m) => m(o));
  }

  private serveList(t: ResourceType, namespace: string | undefined, match: Matcher, q: URLSearchParams): object {
    const all = this.store.list(t, namespace, match);
    const limit = Number(q.get('limit') ?? 0);
    let start = 0;
    let rv = String(this.store.resourceVersion);
    const cont = q.get('continue');
    if (cont) {
      const tok = JSON.parse(Buffer.from(cont, 'base64').toString('utf8')) as { start: number; rv: string };
      start = tok.start;
      rv = tok.rv;
    }
    const items = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
    const end = start + items.length;
    const metadata: Record<string, unknown> = { resourceVersion: rv };
    if (limit > 0 && end < all.length) {
      metadata.continue = Buffer.from(JSON.stringify({ start: end, rv })).toString('base64');
      metadata.remainingItemCount = all.length - end;
    }
    return { kind: `${t.kind}${LIST_KIND_SUFFIX}`, apiVersion: groupVersion(t), metadata, items: items.map(listItem) };
  }

  private writeBookmark(w: OpenWatch): void {
    w.res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: w.t.kind, apiVersion: groupVersion(w.t), metadata: { resourceVersion: String(this.store.resourceVersion), annotations: { 'k8s.io/initial-events-end': 'true' } } } }) + '\n');
  }

  private serveWatch(req: IncomingMessage, res: ServerResponse, t: ResourceType, namespace: string | undefined, match: Matcher, q: URLSearchParams): void {
    const rvParam = q.get('resourceVersion') ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) { sendJson(res, 400, status(400, 'BadRequest', `invalid resource version "${rvParam}"`)); return; }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const send = (type: string, object: object) => { if (!res.writableEnded) res.write(JSON.stringify({ type, object }) + '\n'); };
    const relevant = (c: Change): [string, KubeObject] | undefined => {
      if (c.resource !== t) return undefined;
      if (namespace !== undefined && t.namespaced && c.object.metadata.namespace !== namespace) return undefined;
      const now = match(c.object);
      if (c.type !== 'MODIFIED') return now ? [c.type, c.object] : undefined;
      const before = c.previous ? match(c.previous) : false;
      if (now && before) return ['MODIFIED', c.object];
      if (now) return ['ADDED', c.object];
      if (before) return ['DELETED', c.object];
      return undefined;
    };
    let timer: NodeJS.Timeout | undefined;
    let timeout: NodeJS.Timeout | undefined;
    const onChange = (c: Change) => { const e = relevant(c); if (e) send(e[0], e[1]); };
    const w: OpenWatch = {
      res, t, bookmarks: q.get('allowWatchBookmarks') === 'true',
      end: () => {
        this.watches.delete(w);
        this.store.off('change', onChange);
        if (timer) clearInterval(timer);
        if (timeout) clearTimeout(timeout);
        if (!res.writableEnded) res.end();
      },
    };
    if (rvParam === '' || rvParam === '0') {
      for (const o of this.store.list(t, namespace, match)) send('ADDED', o);
    } else {
      let changes: Change[];
      try { changes = this.store.since(Number(rvParam)); } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        send('ERROR', status(e.code, e.reason, e.message));
        res.end();
        return;
      }
      for (const c of changes) onChange(c);
    }
    this.store.on('change', onChange);
    this.watches.add(w);
    if (w.bookmarks && this.bookmarkMs > 0) { timer = setInterval(() => this.writeBookmark(w), this.bookmarkMs); timer.unref(); }
    const ts = Number(q.get('timeoutSeconds') ?? 0);
    if (ts > 0) { timeout = setTimeout(() => w.end(), ts * 1000); timeout.unref(); }
    req.on('close', () => w.end());
    res.on('close', () => w.end());
  }

  // ---- port-forward (WebSocket) ----

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const refuse = (code: number, body: object) => {
      this.record(req, url, 'create', code);
      const s = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${code} ${code === 401 ? 'Unauthorized' : code === 403 ? 'Forbidden' : code === 404 ? 'Not Found' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(s)}\r\nConnection: close\r\n\r\n${s}`);
    };
    if (!this.authorized(req)) return refuse(401, status(401, 'Unauthorized', 'Unauthorized'));
    const r = route(url.pathname);
    if (!r || r === 'discovery' || r.t.name !== 'pods' || r.sub !== 'portforward' || !r.name || !r.namespace) return refuse(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const { namespace, name } = r;
    const denied = this.forbiddenFor('create', 'pods/portforward', namespace, name);
    if (denied) return refuse(403, denied);
    const pod = this.store.get(r.t, namespace, name);
    if (!pod) return refuse(404, status(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' }));
    const ports = (url.searchParams.getAll('ports').join(',')).split(',').filter(Boolean).map(Number);
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return refuse(400, status(400, 'BadRequest', 'at least one valid port is required'));
    this.record(req, url, 'create', 101);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.bridge(ws, namespace, name, pod.metadata.uid ?? '', ports));
  }

  private bridge(ws: WebSocket, namespace: string, pod: string, uid: string, ports: number[]): void {
    const conns: (Socket | undefined)[] = [];
    const frame = (ch: number, data: Buffer) => { if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([ch]), data])); };
    ports.forEach((port, i) => {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      frame(2 * i, portBytes);
      frame(2 * i + 1, portBytes);
      const target = this.forwards.get(`${namespace}/${pod}/${port}`) ?? this.forwards.get(`${namespace}/${pod}/*`);
      const fail = (why: string) => {
        frame(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${pod}, uid ${uid}: ${why}`));
        ws.close();
      };
      if (!target) { fail(`failed to connect to localhost:${port} inside the pod: connection refused`); return; }
      const sock = 'path' in target ? connect(target.path) : connect(target.port, target.host);
      conns[i] = sock;
      sock.on('data', (d: Buffer) => frame(2 * i, d));
      sock.on('error', (e) => fail(e.message));
      sock.on('close', () => ws.close());
    });
    ws.on('message', (data: Buffer) => {
      if (data.length === 0) return;
      const ch = data[0]!;
      if (ch % 2 !== 0) return;
      conns[ch / 2]?.write(data.subarray(1));
    });
    ws.on('close', () => { for (const c of conns) c?.destroy(); });
    ws.on('error', () => { for (const c of conns) c?.destroy(); });
  }

  // ---- admin requests of the separate-process form ----

  private async admin(req: IncomingMessage, res: ServerResponse, op: string): Promise<void> {
    const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') as Record<string, never> : {} as Record<string, never>;
    try {
      switch (op) {
        case 'apply': return sendJson(res, 200, await this.apply(body as unknown as KubeObject));
        case 'remove': await this.remove(body.apiVersion, body.kind, body.namespace, body.name); return sendJson(res, 200, {});
        case 'get': return sendJson(res, 200, { object: (await this.get(body.apiVersion, body.kind, body.namespace, body.name)) ?? null });
        case 'forbid': await this.forbid(body as unknown as ForbidRule); return sendJson(res, 200, {});
        case 'allow': await this.allow(body as unknown as ForbidRule); return sendJson(res, 200, {});
        case 'allow-all': await this.allowAll(); return sendJson(res, 200, {});
        case 'expire-watches': await this.expireWatches(); return sendJson(res, 200, {});
        case 'close-watches': await this.closeWatches(); return sendJson(res, 200, {});
        case 'bookmark': await this.bookmark(); return sendJson(res, 200, {});
        case 'port-forward': await this.setPortForward(body.namespace, body.pod, body.target, body.port); return sendJson(res, 200, {});
        case 'requests': return sendJson(res, 200, await this.requests());
        case 'watch-count': return sendJson(res, 200, { count: await this.watchCount() });
        default: return sendJson(res, 404, { error: `unknown fake admin operation ${op}` });
      }
    } catch (e) {
      return sendJson(res, 400, { error: (e as Error).message });
    }
  }
}

/** Start the fake in this process. */
export async function startFakeKubeApiServer(opts: FakeKubeApiServerOptions = {}): Promise<FakeKubeApiServer> {
  return new FakeKubeApiServerImpl(opts).start();
}

export { RESOURCES };
