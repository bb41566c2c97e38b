// Test harness: a real OCI registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1, optionally with
// TLS (self-signed certificate from openssl), htpasswd basic auth, or bearer-token auth served by a small token
// server in this process. Every registry is started by PID and stopped by PID.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createPrivateKey, sign as cryptoSign, randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import * as http from 'node:http';

export interface RegistryOptions {
  tls?: boolean;
  /** htpasswd basic auth with this user */
  basicAuth?: { username: string; password: string };
  /** bearer-token auth against a fake token server started here */
  tokenAuth?: { username: string; password: string };
}

export interface RegistryInstance {
  /** host:port */
  host: string;
  port: number;
  pid: number;
  dir: string;
  /** directory holding ca.crt (TLS only), for --cert-dir / skopeo --cert-dir */
  certDir?: string;
  caFile?: string;
  /** token server, when tokenAuth is on */
  tokenRequests?: { scope: string[]; user?: string }[];
  stop(): Promise<void>;
}

export function haveRegistry(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v docker-registry'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function makeCert(dir: string, name: string, keyType: 'rsa' | 'ec' = 'rsa'): { key: string; cert: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  const newkey = keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  execFileSync('openssl', [
    'req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { key, cert };
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

interface TokenServer {
  realm: string;
  server: Server;
  requests: { scope: string[]; user?: string }[];
}

/** A token service as distribution's `auth.token` expects: ES256 JWTs with the signing certificate in x5c. */
async function startTokenServer(dir: string, service: string, issuer: string, user: { username: string; password: string }): Promise<TokenServer & { certFile: string }> {
  const { key, cert } = makeCert(dir, 'token-signer', 'ec');
  const pk = createPrivateKey(readFileSync(key));
  const der = Buffer.from(
    readFileSync(cert, 'utf8').replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
    'base64',
  );
  const requests: { scope: string[]; user?: string }[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope');
    let who: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [n, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (n !== user.username || p !== user.password) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="token"' }).end();
        return;
      }
      who = n;
    }
    requests.push({ scope: scopes, user: who });
    if (!who) {
      // anonymous users get nothing
      res.writeHead(401, { 'www-authenticate': 'Basic realm="token"' }).end();
      return;
    }
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: (actions ?? '').split(',').filter(Boolean) };
    });
    const now = Math.floor(Date.now() / 1000);
    const headerJ = { alg: 'ES256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: who, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(headerJ))}.${b64url(JSON.stringify(claims))}`;
    const sig = cryptoSign('sha256', Buffer.from(signingInput), { key: pk, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${b64url(sig)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return { realm: `http://127.0.0.1:${port}/token`, server, requests, certFile: cert };
}

function probe(url: string, ca?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.get(url, { ca, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<RegistryInstance> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ig-test-registry-'));
  const lines: string[] = [
    'version: 0.1',
    'log: {level: error, accesslog: {disabled: true}}',
    `storage: {filesystem: {rootdirectory: ${path.join(dir, 'data')}}, delete: {enabled: true}}`,
  ];
  let certDir: string | undefined;
  let caFile: string | undefined;
  let token: (TokenServer & { certFile: string }) | undefined;
  const port = await freePort();
  const httpLines = [`  addr: 127.0.0.1:${port}`, `  secret: ${randomBytes(8).toString('hex')}`];
  if (opts.tls) {
    const { key, cert } = makeCert(dir, 'registry');
    certDir = path.join(dir, 'certs.d');
    mkdirSync(certDir);
    caFile = path.join(certDir, 'ca.crt');
    writeFileSync(caFile, readFileSync(cert));
    httpLines.push('  tls:', `    certificate: ${cert}`, `    key: ${key}`);
  }
  lines.push('http:', ...httpLines);
  if (opts.basicAuth) {
    const htpasswd = path.join(dir, 'htpasswd');
    const out = execFileSync('htpasswd', ['-Bbn', opts.basicAuth.username, opts.basicAuth.password]);
    writeFileSync(htpasswd, out);
    lines.push('auth:', '  htpasswd:', '    realm: igtest', `    path: ${htpasswd}`);
  } else if (opts.tokenAuth) {
    token = await startTokenServer(dir, 'ig-test-registry', 'ig-test-issuer', opts.tokenAuth);
    lines.push('auth:', '  token:', `    realm: ${token.realm}`, '    service: ig-test-registry', '    issuer: ig-test-issuer', `    rootcertbundle: ${token.certFile}`);
  }
  const cfg = path.join(dir, 'config.yml');
  writeFileSync(cfg, lines.join('\n') + '\n');
  const child: ChildProcess = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid!;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const base = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/v2/`;
  const ca = caFile ? readFileSync(caFile) : undefined;
  const deadline = Date.now() + 15_000;
  let ok = false;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const st = await probe(base, ca);
    if (st === 200 || st === 401) {
      ok = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = async () => {
    if (child.exitCode === null) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 3000);
      await exited;
      clearTimeout(t);
    }
    if (token) await new Promise<void>((r) => token!.server.close(() => r()));
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  };
  if (!ok) {
    await stop();
    throw new Error(`docker-registry did not come up on 127.0.0.1:${port}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { host: `127.0.0.1:${port}`, port, pid, dir, certDir, caFile, tokenRequests: token?.requests, stop };
}
