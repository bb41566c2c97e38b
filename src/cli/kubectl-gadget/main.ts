#!/usr/bin/env node
// kubectl-gadget (`kubectl gadget` as a kubectl plugin): deploy ig as a DaemonSet, and run gadgets on the nodes'
// daemons through the API server's pod port-forward, one merged output for all of them.
import * as fs from 'node:fs';
import { Command } from 'commander';
import { Config, setActiveConfig } from '../../config/config.js';
import { exitCodeOf, reportError, runMain, UsageError } from '../errors.js';
import { igVersion } from '../version.js';
import { GADGET_NAMESPACE } from '../../kube/manifests.js';
import { extractConfigFlag } from '../gadgetctl/connect.js';
import { connectionTimeoutSeconds, takeValueFlags } from '../value-flags.js';
import type { ClusterContext } from './run.js';
import type { DeployFlags, UndeployFlags } from './deploy.js';

// The Kubernetes client and the gRPC client take ~0.6 s of CPU to load: only the commands that talk to a
// cluster load them (deploy --print-only and --help do not).
const lazy = {
  run: () => import('./run.js'),
  instances: () => import('./instances.js'),
  deploy: () => import('./deploy.js'),
};

function parseNodeList(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

// See gadgetctl: grpc-js passes 127.0.0.1 (the tunnel's end) as TLS server name, and the warning is noise.
process.noDeprecation = true;

export interface GlobalFlags {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  node: string[];
  connectTimeoutSec: number;
}

const VALUE: Record<string, keyof GlobalFlags> = {
  '--kubeconfig': 'kubeconfig', '--context': 'context', '--gadget-namespace': 'namespace', '--node': 'node', '--connection-timeout': 'connectTimeoutSec',
};

export const GLOBAL_HELP = `Cluster flags (any command):
      --kubeconfig string           Kubernetes configuration (default $KUBECONFIG, ~/.kube/config, or in-cluster)
      --context string              Context of the configuration to use
      --gadget-namespace string     Namespace of the gadget pods (default "${GADGET_NAMESPACE}")
      --node string                 Comma-separated nodes to run on (default: every node with a gadget pod)
      --connection-timeout int      Seconds to wait for each node's daemon (default 30)
      --config string               ig configuration file for output params (default ~/.ig/config.yaml)
`;

/** Take the cluster flags out of the arguments (`--flag value` or `--flag=value`, anywhere before `--`). */
export function extractGlobalFlags(args: string[]): { flags: GlobalFlags; rest: string[] } {
  const flags: GlobalFlags = { namespace: GADGET_NAMESPACE, node: [], connectTimeoutSec: 30 };
  const rest = takeValueFlags(args, VALUE, (key, v) => {
    if (key === 'node') flags.node = parseNodeList(v);
    else if (key === 'connectTimeoutSec') flags.connectTimeoutSec = connectionTimeoutSeconds(v);
    else (flags as unknown as Record<string, string>)[key] = v;
  });
  return { flags, rest };
}

/** Connections to the selected nodes' gadget pods (none opened yet: each opens on first use). */
async function cluster(g: GlobalFlags): Promise<ClusterContext> {
  const [{ loadKubeConfig }, { listGadgetPods, selectTargets }, { NodeConn }] = await Promise.all([
    import('../../kube/kubeconfig.js'), import('../../kube/gadget-pods.js'), import('./nodes.js')]);
  const kc = loadKubeConfig(g.kubeconfig, g.context);
  const targets = selectTargets(await listGadgetPods(kc, g.namespace), g.node, g.namespace);
  return { kc, namespace: g.namespace, nodes: g.node, conns: targets.map((t) => new NodeConn(kc, t, { connectTimeoutSec: g.connectTimeoutSec })) };
}

async function withCluster<T>(g: GlobalFlags, fn: (cc: ClusterContext) => Promise<T>): Promise<T> {
  const cc = await cluster(g);
  try { return await fn(cc); } finally { await Promise.all(cc.conns.map((c) => c.close())); }
}

export async function main(argv: string[]): Promise<number> {
  let g: GlobalFlags;
  let args: string[];
  try {
    const c = extractConfigFlag(argv.slice(2));
    setActiveConfig(Config.load(c.path));
    ({ flags: g, rest: args } = extractGlobalFlags(c.rest));
  } catch (e) {
    reportError(e, false);
    return 1;
  }
  const verbose = args.includes('-v') || args.includes('--verbose');
  const cmdAt = args.findIndex((a) => !a.startsWith('-'));
  const sub = cmdAt >= 0 ? args[cmdAt] : undefined;
  try {
    if (sub === 'run' || sub === 'attach') {
      const rest = [...args.slice(0, cmdAt), ...args.slice(cmdAt + 1)];
      const wantsHelpOnly = rest.every((a) => a.startsWith('-')) && (rest.includes('-h') || rest.includes('--help'));
      const { runCluster } = await lazy.run();
      if (wantsHelpOnly) return await runCluster({ kc: undefined as never, namespace: g.namespace, conns: [], nodes: [] }, rest, sub);
      return await withCluster(g, (cc) => runCluster(cc, rest, sub));
    }
    const program = new Command('kubectl-gadget')
      .description('Deploy ig to a Kubernetes cluster and run gadgets on its nodes')
      .option('-v, --verbose', 'Print debug information')
      .addHelpText('after', `\n${GLOBAL_HELP}`)
      .exitOverride()
      .configureOutput({ writeErr: () => undefined });
    program.command('deploy').description('Deploy ig on every node (namespace, RBAC, ConfigMap, DaemonSet) and wait until it is ready')
      .option('--image <image>', 'Container image of ig', `localhost/ig:${igVersion()}`)
      .option('--image-pull-policy <policy>', 'Always, IfNotPresent or Never (default: Always for :latest, else IfNotPresent)')
      .option('--print-only', 'Print the manifests instead of creating them')
      .option('--wait [bool]', 'Wait until the gadget pods are ready', 'true')
      .option('--timeout <seconds>', 'Seconds to wait for the gadget pods', '120')
      .option('--daemon-config <file>', 'ig configuration file for the daemons (stored in the ConfigMap)')
      .option('--events-buffer-length <n>', 'Messages (event batches) buffered per client of each daemon', '16384')
      .option('--daemon-log-level <level>', 'info or debug', 'info')
      .option('-q, --quiet', 'Say nothing but errors')
      .action(async (o: DeployFlags) => (await lazy.deploy()).deployCommand(g, o));
    program.command('undeploy').description('Remove ig from the cluster')
      .option('--wait [bool]', 'Wait until the namespace is gone', 'true')
      .option('--timeout <seconds>', 'Seconds to wait', '60')
      .option('-q, --quiet', 'Say nothing but errors')
      .action(async (o: UndeployFlags) => (await lazy.deploy()).undeployCommand(g, o));
    program.command('run').description('Run a gadget on the nodes (see kubectl gadget run IMAGE --help)').allowUnknownOption(true).helpOption(false);
    program.command('attach').description('Attach to a gadget instance on the nodes (kubectl gadget attach NAME|ID)').allowUnknownOption(true).helpOption(false);
    program.command('list').aliases(['ls', 'ps', 'l']).description('List gadget instances on the nodes').option('-o, --output <mode>', 'columns or json', 'columns')
      .action(async (o: { output: string }) => { if (o.output !== 'columns' && o.output !== 'json') throw new UsageError(`invalid output mode "${o.output}": use columns or json`); const { listCluster } = await lazy.instances(); process.exitCode = await withCluster(g, (cc) => listCluster(cc.conns, o.output === 'json')); });
    program.command('delete').aliases(['d', 'del', 'rm']).argument('<name|id...>').description('Delete gadget instances on the nodes')
      .action(async (keys: string[]) => { const { deleteCluster } = await lazy.instances(); if (await withCluster(g, (cc) => deleteCluster(cc.conns, keys)) > 0) process.exitCode = 1; });
    program.command('version').description('Show the version of kubectl-gadget and of the daemon on each node')
      .action(async () => {
        let cc: ClusterContext | undefined;
        try { cc = await cluster(g); } catch (e) {
          process.stdout.write(`Client version: ${igVersion()}\nServer version: not available (${(e as Error).message.split('\n')[0]})\n`);
          return;
        }
        try { await (await lazy.instances()).versionCluster(cc.conns); } finally { await Promise.all(cc.conns.map((c) => c.close())); }
      });
    await program.parseAsync(['node', 'kubectl-gadget', ...args]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return exitCodeOf(e, verbose);
  }
}

// Only when run as the command (tests import extractGlobalFlags).
if (process.argv[1] && fs.realpathSync(process.argv[1]).endsWith('kubectl-gadget/main.js')) runMain(() => main(process.argv));
