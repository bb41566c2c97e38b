// `ig daemon`: serve the gadget-service gRPC API (gadgetctl and upstream's clients talk to it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { GadgetDaemon } from '../service/server.js';
import { parseAddress } from '../service/address.js';
import { DEFAULT_DAEMON_ADDRESS, DEFAULT_EVENT_BUFFER_LENGTH, DEFAULT_INSTANCES_DIR } from '../service/consts.js';
import { Logger } from '../gadget/logger.js';
import { UsageError, reportError } from './errors.js';
import { igVersion } from './version.js';
import { kubeSourcesFromEnv } from '../kube/index.js';

/** A group name from /etc/group, or a numeric gid. */
export function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let text = '';
  try { text = fs.readFileSync('/etc/group', 'utf8'); } catch { /* no group database: only numeric gids work */ }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new UsageError(`group "${group}" not found`);
}

interface DaemonFlags {
  host: string; group?: string; eventsBufferLength: string; tlsKeyFile?: string; tlsCertFile?: string; tlsCaFile?: string;
  tlsClientCaFile?: string; tlsInsecure?: boolean; instancesDir: string; recordingsDir?: string; verbose?: boolean;
}

export function registerDaemon(program: Command): void {
  program.command('daemon')
    .description('Run ig as a daemon serving the gadget service (gRPC) to gadgetctl')
    .option('-H, --host <address>', 'Address to serve on: unix:///path or tcp://ADDR:PORT', DEFAULT_DAEMON_ADDRESS)
    .option('-G, --group <group>', 'Group (name or gid) that may use the unix socket (mode 0660); without it only root can (0600)')
    .option('--events-buffer-length <n>', 'Messages (event batches, at most 32 MiB) buffered per client; a slower client loses the excess (counted)', String(DEFAULT_EVENT_BUFFER_LENGTH))
    .option('--tls-key-file <file>', 'TLS key of the server')
    .option('--tls-cert-file <file>', 'TLS certificate of the server')
    .option('--tls-ca-file <file>', 'CA certificate that client certificates must be signed by (mutual TLS)')
    .option('--tls-client-ca-file <file>', 'Same as --tls-ca-file (upstream\'s name)')
    .option('--tls-insecure', 'Allow plain TCP without TLS')
    .option('--instances-dir <dir>', 'Where headless gadget instances are stored', DEFAULT_INSTANCES_DIR)
    .option('--recordings-dir <dir>', 'Serve the recordings (ig run --record) in this directory: clients run replay:NAME, e.g. gadgetctl run replay:incident.igrec')
    .option('-v, --verbose', 'Print debug information')
    .action(async (o: DaemonFlags, cmd: Command) => {
      // `ig daemon -v`: ig's own -v takes the flag before this command sees it.
      const verbose = Boolean(o.verbose || cmd.parent?.opts().verbose);
      try {
        if (process.geteuid?.() !== 0) throw new UsageError('ig daemon must be run as root to be able to run eBPF programs');
        const address = parseAddress(o.host);
        const n = Number(o.eventsBufferLength);
        if (!Number.isInteger(n) || n <= 0) throw new UsageError(`invalid value "${o.eventsBufferLength}" for --events-buffer-length: expected a positive integer`);
        const ca = o.tlsCaFile ?? o.tlsClientCaFile;
        if (Boolean(o.tlsKeyFile) !== Boolean(o.tlsCertFile)) throw new UsageError('TLS needs both --tls-key-file and --tls-cert-file');
        if (ca && !o.tlsKeyFile) throw new UsageError('--tls-ca-file needs --tls-key-file and --tls-cert-file');
        for (const f of [o.tlsKeyFile, o.tlsCertFile, ca]) if (f && !fs.existsSync(f)) throw new UsageError(`TLS file ${f} does not exist`);
        const log = new Logger(verbose ? 'debug' : 'info');
        const recordingsDir = o.recordingsDir ? path.resolve(o.recordingsDir) : undefined;
        if (recordingsDir && !fs.statSync(recordingsDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--recordings-dir ${o.recordingsDir}: no such directory`);
        // On a cluster node (NODE_NAME set, as the DaemonSet does): every run gets KubeManager and the resolvers.
        const kube = await kubeSourcesFromEnv((m) => log.warn(m));
        if (kube) log.info(`Kubernetes node ${kube.node}: pods and owners from the API server enrich events`);
        const daemon = new GadgetDaemon({
          address,
          gid: o.group !== undefined ? resolveGroup(o.group) : undefined,
          eventBufferLength: n,
          tls: o.tlsKeyFile ? { key: o.tlsKeyFile, cert: o.tlsCertFile!, clientCa: ca } : undefined,
          insecure: Boolean(o.tlsInsecure),
          instancesDir: o.instancesDir,
          serverVersion: igVersion(),
          log,
          run: { ...(kube ? { kube } : {}), ...(recordingsDir ? { recordingsDir } : {}) },
        });
        if (address.type === 'tcp' && !o.tlsKeyFile && o.tlsInsecure) log.warn('no TLS configuration: traffic between daemon and clients is not encrypted');
        await daemon.start();
        log.info(`ig daemon ${igVersion()} serving on ${o.host}`);
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (sig: string) => {
            if (stopping) process.exit(130);
            stopping = true;
            log.info(`${sig}: stopping`);
            daemon.stop().then(resolve, (e) => { log.error(`while stopping: ${(e as Error).message}`); resolve(); });
          };
          process.on('SIGINT', () => stop('SIGINT'));
          process.on('SIGTERM', () => stop('SIGTERM'));
        });
      } catch (e) {
        reportError(e, verbose);
        process.exitCode = 1;
      }
    });
}
