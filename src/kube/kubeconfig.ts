// Where kubectl-gadget finds the cluster, as kubectl does: --kubeconfig, else $KUBECONFIG (':'-separated), else
// ~/.kube/config, else the in-cluster service account. And API errors as one line a person can act on.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export class KubeError extends Error {}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function loadKubeConfig(explicit?: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  const env = process.env['KUBECONFIG'];
  const home = path.join(os.homedir(), '.kube', 'config');
  try {
    if (explicit !== undefined) {
      if (!fs.existsSync(explicit)) throw new KubeError(`kubeconfig ${explicit} does not exist`);
      kc.loadFromFile(explicit);
    } else if (env) {
      const files = env.split(':').filter((f) => f && fs.existsSync(f));
      if (files.length === 0) throw new KubeError(`KUBECONFIG=${env}: no such file`);
      // client-node merges the files of $KUBECONFIG itself (first file wins per name, as kubectl).
      kc.loadFromDefault();
    } else if (fs.existsSync(home)) {
      kc.loadFromFile(home);
    } else if (process.env['KUBERNETES_SERVICE_HOST'] && fs.existsSync(path.join(SA_DIR, 'token'))) {
      kc.loadFromCluster();
    } else {
      throw new KubeError('no Kubernetes configuration: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config');
    }
  } catch (e) {
    if (e instanceof KubeError) throw e;
    throw new KubeError(`cannot read the Kubernetes configuration ${explicit ?? env ?? home}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (context) {
    if (!kc.getContexts().some((c) => c.name === context)) throw new KubeError(`context "${context}" not found in the Kubernetes configuration`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new KubeError('the Kubernetes configuration has no current cluster (set current-context)');
  return kc;
}

/** The server's Status message of an ApiException (its body is the JSON text or the parsed object). */
function statusMessage(body: unknown): string | undefined {
  let b = body;
  if (typeof body === 'string') {
    try { b = JSON.parse(body); } catch { return body.trim() || undefined; /* not JSON: the text is the message */ }
  }
  const m = (b as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' && m ? m : undefined;
}

/** One line for an error of a Kubernetes API call: what was asked, what the server (or the network) said. */
export function kubeErrorLine(e: unknown, what: string, server?: string): string {
  const x = e as { code?: unknown; body?: unknown; cause?: { code?: string }; message?: string };
  if (typeof x?.code === 'number') {
    const msg = statusMessage(x.body);
    if (x.code === 401) return `${what}: unauthorized (check the credentials of the Kubernetes configuration)${msg ? `: ${msg}` : ''}`;
    if (x.code === 403) return `${what}: forbidden${msg ? `: ${msg}` : ''}`;
    return `${what}: ${msg ?? `HTTP ${x.code}`}`;
  }
  const code = x?.cause?.code ?? (typeof x?.code === 'string' ? x.code : undefined);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
    return `${what}: cannot reach the Kubernetes API server${server ? ` at ${server}` : ''} (${code})`;
  }
  const first = (x?.message ?? String(e)).split('\n')[0]!;
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|socket hang up|request to .* failed/.test(first)) {
    return `${what}: cannot reach the Kubernetes API server${server ? ` at ${server}` : ''} (${first.replace(/^.*reason: /, '')})`;
  }
  return `${what}: ${first}`;
}

export function isNotFound(e: unknown): boolean { return (e as { code?: unknown })?.code === 404; }
export function isConflict(e: unknown): boolean { return (e as { code?: unknown })?.code === 409; }
