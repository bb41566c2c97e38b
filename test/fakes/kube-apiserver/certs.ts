// FAKE Kubernetes API server: a throw-away CA and a serving certificate signed by it (openssl), so clients
// verify the server as they would a real cluster's (certificate-authority-data in the kubeconfig, ca.crt of the
// service account).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';

export interface ServingCerts { caPath: string; ca: Buffer; cert: Buffer; key: Buffer }

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Make `ca.crt`, `server.crt`, `server.key` in `dir`; `hosts` become subjectAltNames (IPs and DNS names). */
export function makeServingCerts(dir: string, hosts: string[]): ServingCerts {
  const f = (n: string) => join(dir, n);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=fake-kubernetes-ca']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=fake-kube-apiserver']);
  const sans = [...new Set(['127.0.0.1', 'localhost', 'kubernetes.default.svc', ...hosts])].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`));
  writeFileSync(f('server.ext'), `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\n`);
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext')]);
  return { caPath: f('ca.crt'), ca: readFileSync(f('ca.crt')), cert: readFileSync(f('server.crt')), key: readFileSync(f('server.key')) };
}
