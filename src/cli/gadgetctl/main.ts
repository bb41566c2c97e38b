#!/usr/bin/env node
// gadgetctl: run gadgets in an `ig daemon` (local socket or TCP with TLS) and manage its headless instances.
import { Command } from 'commander';
import { connect, extractConfigFlag, extractRemoteFlags, REMOTE_HELP, type RemoteFlags } from './connect.js';
import { Config, setActiveConfig } from '../../config/config.js';
import { runRemote } from './run.js';
import { igVersion } from '../version.js';
import { exitCodeOf, reportError, runMain } from '../errors.js';
import type { GadgetClient } from '../../service/client.js';

/** list/show/delete (YAML, the full protobuf API for instance states): loaded only by those commands. */
const instances = () => import('./instances.js');

async function withClient<T>(flags: RemoteFlags, fn: (c: GadgetClient) => Promise<T>): Promise<T> {
  const c = connect(flags);
  try { return await fn(c); } finally { c.close(); }
}

// tls.connect warns (DEP0123) when grpc-js passes an IP address as the TLS server name (tcp://127.0.0.1:…):
// that is how the daemon is addressed, and the warning would be a second line on every error.
process.noDeprecation = true;

export async function main(argv: string[]): Promise<number> {
  let flags: RemoteFlags;
  let args: string[];
  try {
    const c = extractConfigFlag(argv.slice(2));
    const cfg = Config.load(c.path);
    setActiveConfig(cfg);
    ({ flags, rest: args } = extractRemoteFlags(c.rest, cfg));
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
      return await withClient(flags, (c) => runRemote(c, rest, sub));
    }
    const program = new Command('gadgetctl')
      .description('Run gadgets in an ig daemon and manage its gadget instances')
      .option('-v, --verbose', 'Print debug information')
      .addHelpText('after', `\n${REMOTE_HELP}`)
      .exitOverride()
      .configureOutput({ writeErr: () => undefined });
    program.command('run').description('Run a gadget in the daemon (see gadgetctl run IMAGE --help)').allowUnknownOption(true).helpOption(false);
    program.command('attach').description('Attach to a running gadget instance (gadgetctl attach NAME|ID)').allowUnknownOption(true).helpOption(false);
    program.command('list').aliases(['ls', 'ps', 'l']).description('List gadget instances').option('-o, --output <mode>', 'columns or json', 'columns')
      .action(async (o: { output: string }) => { const { listInstances } = await instances(); await withClient(flags, (c) => listInstances(c, o.output === 'json')); });
    program.command('show').argument('<name|id>').description('Show details of a gadget instance')
      .action(async (key: string) => { const { showInstance } = await instances(); await withClient(flags, (c) => showInstance(c, key)); });
    program.command('delete').aliases(['d', 'del', 'rm']).argument('<name|id...>').description('Delete gadget instances')
      .action(async (keys: string[]) => { const { deleteInstances } = await instances(); if (await withClient(flags, (c) => deleteInstances(c, keys)) > 0) process.exitCode = 1; });
    const image = program.command('image').description('Gadget images as the daemon sees them');
    image.command('inspect').argument('<image>').description('Show what the daemon knows of a gadget image: params and data sources')
      .option('-o, --output <mode>', 'json, jsonpretty or yaml', 'jsonpretty')
      .action((ref: string, o: { output: string }) => withClient(flags, async (c) => {
        const info = await c.getGadgetInfo(ref);
        const out = {
          name: info.name, imageName: info.imageName, annotations: info.annotations, params: info.params,
          dataSources: info.dataSources.map((d) => ({ name: d.name, type: d.type === 2 ? 'array' : 'single', annotations: d.annotations, fields: d.fields.map((f) => ({ name: f.fullName, kind: f.kind, size: f.size, tags: f.tags, annotations: f.annotations })) })),
          metadata: info.metadata.toString('utf8'),
        };
        if (o.output === 'yaml') { const { stringify } = await import('yaml'); process.stdout.write(stringify(out)); }
        else process.stdout.write(JSON.stringify(out, null, o.output === 'json' ? 0 : 2) + '\n');
      }));
    program.command('version').description('Show the version of gadgetctl and of the daemon')
      .action(async () => {
        process.stdout.write(`Client version: ${igVersion()}\n`);
        try {
          const info = await withClient(flags, (c) => c.getInfo());
          process.stdout.write(`Server version: ${info.serverVersion}\n`);
        } catch (e) {
          process.stdout.write(`Server version: not available (${(e as Error).message.split('\n')[0]})\n`);
        }
      });
    await program.parseAsync(['node', 'gadgetctl', ...args]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return exitCodeOf(e, verbose);
  }
}

runMain(() => main(process.argv));
