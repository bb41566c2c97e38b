// Where the Kubernetes client's configuration comes from, as upstream's k8sutil: an explicit kubeconfig
// (KUBECONFIG), else the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT and the token, CA and namespace
// files below /var/run/secrets/kubernetes.io/serviceaccount; IG_KUBE_SERVICEACCOUNT_ROOT moves that root, for
// tests and for a host root mounted elsewhere), else ~/.kube/config. Failures are one line saying what is missing.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

export class KubeConfigError extends Error {}

export const SERVICEACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadedKubeConfig { kc: KubeConfig; source: string; server: string }

/** Load the client configuration; throws KubeConfigError with one clear line when there is none or it is bad. */
export async function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): Promise<LoadedKubeConfig> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  const explicit = env['KUBECONFIG'];
  const loadFile = (file: string, what: string): LoadedKubeConfig => {
    if (!existsSync(file)) throw new KubeConfigError(`kubeconfig ${file} (${what}): file not found`);
    try {
      kc.loadFromFile(file);
    } catch (e) {
      throw new KubeConfigError(`kubeconfig ${file} (${what}): ${(e as Error).message.split('\n')[0]}`);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeConfigError(`kubeconfig ${file} (${what}): no current context with a cluster (current-context: "${kc.getCurrentContext()}")`);
    return { kc, source: file, server: cluster.server };
  };
  if (explicit) return loadFile(explicit.split(':')[0]!, 'KUBECONFIG');
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (host) {
    const root = env['IG_KUBE_SERVICEACCOUNT_ROOT'] ?? '';
    const token = join(root, SERVICEACCOUNT_DIR, 'token');
    if (!env['KUBERNETES_SERVICE_PORT']) throw new KubeConfigError('in-cluster Kubernetes config: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not');
    if (!existsSync(token)) throw new KubeConfigError(`in-cluster Kubernetes config: service account token ${token} not found (is a service account mounted?)`);
    // client-node reads the env itself; hand it ours (tests pass their own env).
    const saved = { h: process.env['KUBERNETES_SERVICE_HOST'], p: process.env['KUBERNETES_SERVICE_PORT'] };
    process.env['KUBERNETES_SERVICE_HOST'] = host;
    process.env['KUBERNETES_SERVICE_PORT'] = env['KUBERNETES_SERVICE_PORT'];
    try {
      kc.loadFromCluster(root);
    } finally {
      if (saved.h === undefined) delete process.env['KUBERNETES_SERVICE_HOST']; else process.env['KUBERNETES_SERVICE_HOST'] = saved.h;
      if (saved.p === undefined) delete process.env['KUBERNETES_SERVICE_PORT']; else process.env['KUBERNETES_SERVICE_PORT'] = saved.p;
    }
    return { kc, source: `in-cluster service account (${join(root, SERVICEACCOUNT_DIR)})`, server: kc.getCurrentCluster()!.server };
  }
  const home = join(env['HOME'] ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return loadFile(home, 'default');
  throw new KubeConfigError('no Kubernetes configuration: KUBECONFIG is not set, KUBERNETES_SERVICE_HOST is not set (not in a cluster) and ~/.kube/config does not exist');
}

/** One line for an error of a Kubernetes API call: the Status message of the answer, or why the server was not reached. */
export function describeKubeError(e: unknown, server: string): string {
  const err = e as { code?: number | string; body?: unknown; message?: string; statusCode?: number };
  if (typeof err?.code === 'number' || typeof err?.statusCode === 'number') {
    const code = (typeof err.code === 'number' ? err.code : err.statusCode)!;
    let msg = '';
    if (typeof err.body === 'string') {
      try { msg = (JSON.parse(err.body) as { message?: string }).message ?? ''; } catch { msg = err.body.slice(0, 200); /* not a Status object: show its start */ }
    } else if (err.body && typeof err.body === 'object') {
      msg = (err.body as { message?: string }).message ?? '';
    }
    return `the Kubernetes API server at ${server} answered ${code}${msg ? `: ${msg}` : ` ${err.message ?? ''}`.trimEnd()}`;
  }
  if (typeof err?.code === 'string') {
    const reason = err.message?.replace(/^request to \S+ failed, reason: /, '') ?? err.code;
    return `cannot reach the Kubernetes API server at ${server}: ${reason}`;
  }
  return `Kubernetes API server at ${server}: ${err?.message ?? String(e)}`;
}
