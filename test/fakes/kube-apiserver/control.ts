// FAKE Kubernetes API server: drive a fake that runs in another process (cli.ts) through its /__fake/ admin
// requests, with the same KubeFakeControl interface as the in-process fake.
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import type { ForbidRule, ForwardTarget, KubeFakeControl, KubeObject, RequestRecord } from './server.js';

/** What cli.ts prints (one JSON line) once it serves. */
export interface FakeKubeProcessInfo {
  pid: number;
  url: string;
  token: string;
  caPath: string;
  dir: string;
  kubeconfigPath: string;
  inClusterPrefix: string;
  inClusterEnv: Record<string, string>;
}

export class FakeKubeControl implements KubeFakeControl {
  private readonly ca: Buffer;
  constructor(readonly info: FakeKubeProcessInfo) { this.ca = readFileSync(info.caPath); }

  private call<T>(op: string, body: object = {}): Promise<T> {
    const data = JSON.stringify(body);
    const u = new URL(`/__fake/${op}`, this.info.url);
    return new Promise<T>((resolve, reject) => {
      const req = request(u, { method: 'POST', ca: this.ca, headers: { Authorization: `Bearer ${this.info.token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as T & { error?: string };
          if (res.statusCode !== 200) reject(new Error(`fake kube-apiserver ${op}: ${out.error ?? res.statusCode}`));
          else resolve(out);
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  apply(obj: KubeObject): Promise<KubeObject> { return this.call('apply', obj); }
  async remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void> { await this.call('remove', { apiVersion, kind, namespace, name }); }
  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    return (await this.call<{ object: KubeObject | null }>('get', { apiVersion, kind, namespace, name })).object ?? undefined;
  }
  async forbid(rule: ForbidRule): Promise<void> { await this.call('forbid', rule); }
  async allow(rule: ForbidRule): Promise<void> { await this.call('allow', rule); }
  async allowAll(): Promise<void> { await this.call('allow-all'); }
  async expireWatches(): Promise<void> { await this.call('expire-watches'); }
  async closeWatches(): Promise<void> { await this.call('close-watches'); }
  async bookmark(): Promise<void> { await this.call('bookmark'); }
  async setPortForward(namespace: string, pod: string, target: ForwardTarget | null, port?: number): Promise<void> { await this.call('port-forward', { namespace, pod, target, port }); }
  requests(): Promise<RequestRecord[]> { return this.call('requests'); }
  async watchCount(): Promise<number> { return (await this.call<{ count: number }>('watch-count')).count; }
}
