// `kubectl gadget deploy` / `undeploy`.
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../errors.js';
import { deployManifests, manifestsYaml } from '../../kube/manifests.js';
import type { GlobalFlags } from './main.js';

export interface DeployFlags {
  image: string; imagePullPolicy?: string; printOnly?: boolean; wait: string | boolean; timeout: string;
  daemonConfig?: string; eventsBufferLength: string; daemonLogLevel: string; quiet?: boolean;
}
export interface UndeployFlags { wait: string | boolean; timeout: string; quiet?: boolean }

function bool(v: string | boolean, flag: string): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new UsageError(`invalid value "${String(v)}" for ${flag}: expected true or false`);
}

function seconds(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`invalid value "${v}" for ${flag}: expected a positive number of seconds`);
  return n * 1000;
}

function manifests(o: DeployFlags, namespace: string) {
  if (!o.image || /\s/.test(o.image)) throw new UsageError(`invalid value "${o.image}" for --image: expected an image reference such as registry.example/ig:v0.1.0`);
  const policy = o.imagePullPolicy;
  if (policy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(policy)) throw new UsageError(`invalid value "${policy}" for --image-pull-policy: use Always, IfNotPresent or Never`);
  const ebl = Number(o.eventsBufferLength);
  if (!Number.isInteger(ebl) || ebl <= 0) throw new UsageError(`invalid value "${o.eventsBufferLength}" for --events-buffer-length: expected a positive integer`);
  if (o.daemonLogLevel !== 'info' && o.daemonLogLevel !== 'debug') throw new UsageError(`invalid value "${o.daemonLogLevel}" for --daemon-log-level: use info or debug`);
  let configYaml: string | undefined;
  if (o.daemonConfig) {
    try { configYaml = fs.readFileSync(o.daemonConfig, 'utf8'); } catch (e) {
      throw new UsageError(`cannot read --daemon-config ${o.daemonConfig}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    try { parseYaml(configYaml); } catch (e) { throw new UsageError(`--daemon-config ${o.daemonConfig}: not valid YAML: ${(e as Error).message.split('\n')[0]}`); }
  }
  return deployManifests({ image: o.image, namespace, pullPolicy: policy as 'Always' | undefined, configYaml, eventsBufferLength: ebl, daemonLogLevel: o.daemonLogLevel });
}

export async function deployCommand(g: GlobalFlags, o: DeployFlags): Promise<void> {
  const objs = manifests(o, g.namespace);
  const wait = bool(o.wait, '--wait');
  const timeout = seconds(o.timeout, '--timeout');
  if (o.printOnly) { process.stdout.write(manifestsYaml(objs)); return; }
  const [{ loadKubeConfig }, { applyObjects, waitReady }] = await Promise.all([import('../../kube/kubeconfig.js'), import('../../kube/deploy.js')]);
  const kc = loadKubeConfig(g.kubeconfig, g.context);
  const say = (s: string) => { if (!o.quiet) process.stdout.write(`${s}\n`); };
  await applyObjects(kc, objs, say);
  if (!wait) return;
  say(`waiting up to ${Math.round(timeout / 1000)}s for the gadget pods to be ready...`);
  let lastLine = '';
  const s = await waitReady(kc, g.namespace, timeout, (st) => {
    const line = `${st.ready}/${st.desired} gadget pods ready`;
    if (line !== lastLine) { lastLine = line; if (!o.quiet && process.stdout.isTTY) process.stdout.write(`${line}\n`); }
  });
  say(`ig is deployed: ${s.ready} of ${s.desired} gadget pods ready`);
}

export async function undeployCommand(g: GlobalFlags, o: UndeployFlags): Promise<void> {
  const wait = bool(o.wait, '--wait');
  const timeout = seconds(o.timeout, '--timeout');
  const [{ loadKubeConfig }, { deleteObjects, waitNamespaceGone }] = await Promise.all([import('../../kube/kubeconfig.js'), import('../../kube/deploy.js')]);
  const kc = loadKubeConfig(g.kubeconfig, g.context);
  const say = (s: string) => { if (!o.quiet) process.stdout.write(`${s}\n`); };
  const n = await deleteObjects(kc, deployManifests({ image: 'unused', namespace: g.namespace }), say);
  if (n === 0) { say('ig is not deployed (nothing to delete)'); return; }
  if (wait) await waitNamespaceGone(kc, g.namespace, timeout);
  say('ig is undeployed');
}
