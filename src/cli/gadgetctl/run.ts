// `gadgetctl run IMAGE|-f FILE [flags]` and `gadgetctl attach NAME|ID [flags]`: the flags of `ig run` (the
// gadget's and operators' params, as the daemon describes them, plus the output flags rendered here).
import * as fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { addParamOptions, commanderMessage } from '../param-flags.js';
import { Logger } from '../../gadget/logger.js';
import type { ParamDesc } from '../../gadget/params.js';
import { ParamSet, parseDuration } from '../../gadget/params.js';
import { parseInstanceSpecs, type InstanceSpec } from '../../gadget/instance-spec.js';
import type { GadgetClient, RunHandle } from '../../service/client.js';
import type { ApiGadgetInfo, ApiGadgetInstance } from '../../service/proto.js';
import { LogLevel } from '../../service/consts.js';
import { UsageError } from '../errors.js';
import { activeConfig } from '../../config/config.js';
import { configValue } from '../../config/params.js';
import type { RemoteRenderer } from './render.js';

// The output side (cli operator, column widths) is loaded while the daemon assembles the gadget for GetGadgetInfo:
// both are on the way to the first event, and they run in different processes.
type RenderModule = typeof import('./render.js');
let renderModule: Promise<RenderModule> | undefined;
function loadRender(): Promise<RenderModule> { return (renderModule ??= import('./render.js')); }

const CLIENT_PREFIX = 'operator.cli.';
const VALUE_FLAGS = new Set(['-t', '--timeout', '--name', '--tags', '--id', '--event-buffer-length', '-f', '--file', '-o', '--output', '--fields']);

export function firstArg(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (a.startsWith('-')) { if (VALUE_FLAGS.has(a)) i++; continue; }
    return a;
  }
  return undefined;
}

export function skeleton(name: string, usage: string): Command {
  const cmd = new Command(name).usage(usage)
    .option('-t, --timeout <seconds>', 'Number of seconds to run the gadget (0: until Ctrl-C)', '0')
    .option('-v, --verbose', 'Print debug information and error details')
    .helpOption('-h, --help', `Help for ${name}`);
  if (name === 'run') {
    cmd.option('-f, --file <file>', 'Run the gadget instance specs of this manifest (several documents: several gadgets)')
      .option('--detach', 'Create a headless gadget instance that keeps running in the daemon')
      .option('--name <name>', 'Name of the gadget instance (with --detach)')
      .option('--tags <list>', 'Comma-separated tags of the gadget instance (with --detach)')
      .option('--id <id>', 'ID of the gadget instance (32 hex characters; generated when unset)')
      .option('--event-buffer-length <n>', 'Events the daemon keeps for clients that attach later (with --detach; 0: the daemon\'s --events-buffer-length)', '0');
  }
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  return cmd;
}

export function parseOrHelp(cmd: Command, args: string[]): boolean {
  try {
    cmd.parse(args, { from: 'user' });
    return true;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return false;
      throw new UsageError(commanderMessage(e).replace('ig run', 'gadgetctl run'));
    }
    throw e;
  }
}

export function timeoutMs(v: string): number {
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return n * 1000;
  try { return parseDuration(v); } catch { throw new UsageError(`invalid value "${v}" for --timeout: expected a number of seconds`); }
}

/** Values the user set on the line, split into what the daemon gets and what the client renders with. */
export function collect(cmd: Command, byAttr: Map<string, ParamDesc>, check: ParamSet): { server: Record<string, string>; client: Map<string, string> } {
  const server: Record<string, string> = {};
  const client = new Map<string, string>();
  const o = cmd.opts();
  for (const [attr, p] of byAttr) {
    if (cmd.getOptionValueSource(attr) !== 'cli') continue;
    const fq = (p.prefix ?? '') + p.key;
    const v = String(o[attr]);
    check.set(fq, v); // type-checked here: a bad value is the user's error before anything reaches the daemon
    if (fq.startsWith(CLIENT_PREFIX)) client.set(fq, v); else server[fq] = v;
  }
  // What the line did not set comes from the environment or the config file (flag > env > file > default).
  for (const p of byAttr.values()) {
    const fq = (p.prefix ?? '') + p.key;
    if (client.has(fq) || fq in server) continue;
    const c = configValue(activeConfig(), fq);
    if (!c) continue;
    try { check.set(fq, c.value); } catch (e) { throw new UsageError(`${c.origin}: ${(e as Error).message}`); }
    if (fq.startsWith(CLIENT_PREFIX)) client.set(fq, c.value); else server[fq] = c.value;
  }
  return { server, client };
}

export const LEVEL_NAMES: Record<number, string> = { [LogLevel.Panic]: 'ERROR', [LogLevel.Fatal]: 'ERROR', [LogLevel.Error]: 'ERROR', [LogLevel.Warn]: 'WARN', [LogLevel.Info]: 'INFO', [LogLevel.Debug]: 'DEBUG', [LogLevel.Trace]: 'DEBUG' };

/** Stream one run (or attachment) to stdout until it ends, Ctrl-C or SIGTERM. */
async function stream(client: GadgetClient, req: Parameters<GadgetClient['run']>[0], values: Map<string, string>, log: Logger): Promise<void> {
  const r: RemoteRenderer = new (await loadRender()).RemoteRenderer(values, log);
  let pending: Promise<void> = Promise.resolve();
  let lostTotal = 0;
  let handle: RunHandle | undefined;
  let info: ApiGadgetInfo | undefined;
  let ready = false;
  /** Batches waiting in `pending` (rendered once the output is set up): later ones queue behind them. */
  let queued = 0;
  // Once the reader of stdout went away (`| head`) the run ends quietly, as `ig run`'s does: the write that found
  // out (EPIPE, thrown by a synchronous write or the native lines' write) stops it, and nothing more is rendered.
  let outputClosed = false;
  const guarded = <T>(what: () => T, otherwise: T): T => {
    if (outputClosed) return otherwise;
    try { return what(); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      outputClosed = true;
      handle?.stop();
      return otherwise;
    }
  };
  handle = client.run(req, {
    onInfo: (i) => { info = i; },
    onDataSources: (dss) => {
      ready = false;
      pending = pending.then(() => r.setup(info!, dss)).then(() => { ready = true; }, (e) => { log.error((e as Error).message); handle?.stop(); });
    },
    // Batches that arrive while the output is being set up wait for it, in order.
    onBatch: (ds, b) => {
      if (ready && queued === 0) { guarded(() => r.onBatch(ds, b), undefined); return; }
      queued++;
      pending = pending.then(() => { queued--; guarded(() => r.onBatch(ds, b), undefined); });
    },
    // Once the output is set up and what waited for it is out, batch frames of a natively rendered data source
    // skip the JS decoder.
    onBatchFrame: (ds, frame, start, end, decode) => outputClosed || (ready && queued === 0 && guarded(() => r.onFrame(ds, frame, start, end, decode), true)),
    // (after `| head` went away, what was dropped meanwhile concerns nobody: only errors are still printed)
    onLog: (level, msg) => { if (outputClosed && level > LogLevel.Error) return; if (level <= LogLevel.Warn || log.enabled(level >= LogLevel.Debug ? 'debug' : 'info')) process.stderr.write(`${LEVEL_NAMES[level] ?? 'INFO'}: ${msg}\n`); },
    onLost: (n) => { if (outputClosed) return; lostTotal += n; process.stderr.write(`WARN: lost ${n} events (this client read too slowly; ${lostTotal} in total)\n`); },
  });
  const stop = () => handle?.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') { outputClosed = true; stop(); } });
  try {
    await handle.done;
    await pending;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await r.stop();
  }
}

export async function runRemote(client: GadgetClient, args: string[], mode: 'run' | 'attach'): Promise<number> {
  const verbose = args.includes('-v') || args.includes('--verbose');
  const log = new Logger(verbose ? 'debug' : 'warn');
  const target = firstArg(args);
  const wantsHelp = args.includes('-h') || args.includes('--help');
  const pre = skeleton(mode, mode === 'run' ? 'IMAGE [flags]' : 'NAME|ID [flags]');
  if (mode === 'run') {
    // -f FILE needs no image; find it before asking the daemon about one.
    const lenient = skeleton(mode, '');
    lenient.allowUnknownOption(true).allowExcessArguments(true).helpOption(false);
    lenient.parse(args.filter((a) => a !== '-h' && a !== '--help'), { from: 'user' });
    const file = lenient.opts()['file'] as string | undefined;
    if (file) {
      if (target) throw new UsageError('please give an image OR a manifest (-f), not both');
      return runSpecs(client, file, args, log);
    }
  }
  if (!target) {
    if (wantsHelp) { process.stdout.write(pre.helpInformation()); return 0; }
    throw new UsageError(mode === 'run' ? 'gadgetctl run needs a gadget image, e.g. gadgetctl run trace_open' : 'gadgetctl attach needs the name or ID of a gadget instance');
  }
  let id: string | undefined;
  if (mode === 'attach') id = (await findInstance(client, target)).id;
  const render = loadRender();
  const info = await client.getGadgetInfo(id ?? target, {}, mode === 'attach');
  const { server, client: clientParams } = await (await render).remoteParams(info, log);
  const cmd = skeleton(mode, `${target} [flags]`).description(`${mode === 'run' ? 'Run' : 'Attach to'} ${info.name}`);
  const all = mode === 'run' ? [...server, ...clientParams] : clientParams;
  const byAttr = addParamOptions(cmd, all, log);
  if (!parseOrHelp(cmd, args)) return 0;
  if (cmd.args.length > 1) throw new UsageError(`unexpected argument "${cmd.args[1]}" after ${mode === 'run' ? 'the image' : 'the instance'}`);
  const check = new ParamSet();
  for (const p of all) check.add(p);
  const values = collect(cmd, byAttr, check);
  const o = cmd.opts();
  const tmo = timeoutMs(String(o['timeout']));
  if (mode === 'run' && o['detach']) {
    const inst = await client.createInstance({
      id: (o['id'] as string | undefined) ?? '', name: (o['name'] as string | undefined) ?? '', tags: splitTags(o['tags'] as string | undefined), nodes: [],
      gadgetConfig: { imageName: target, paramValues: values.server, version: 1, timeout: String(BigInt(Math.round(tmo)) * 1000000n) },
    }, eventBufferLength(String(o['eventBufferLength'])));
    process.stdout.write(`${inst.id}\n`);
    return 0;
  }
  for (const k of ['name', 'tags', 'id']) if (o[k] !== undefined) throw new UsageError(`--${k} needs --detach`);
  if (cmd.getOptionValueSource('eventBufferLength') === 'cli') throw new UsageError('--event-buffer-length needs --detach');
  await stream(client, id ? { attachId: id } : { imageName: target, paramValues: values.server, timeoutMs: tmo, logLevel: verbose ? LogLevel.Debug : LogLevel.Warn }, values.client, log);
  return 0;
}

export function eventBufferLength(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 0x7fffffff) throw new UsageError(`invalid value "${v}" for --event-buffer-length: expected a number of events (0: the daemon's setting)`);
  return n;
}

export function splitTags(v: string | undefined): string[] {
  return v ? v.split(',').map((t) => t.trim()).filter(Boolean) : [];
}

/** -f FILE: with --detach every spec becomes an instance; without, every spec runs now, side by side. */
async function runSpecs(client: GadgetClient, file: string, args: string[], log: Logger): Promise<number> {
  const text = file === '-' ? fs.readFileSync(0, 'utf8') : readFile(file);
  const specs = parseInstanceSpecs(text, file);
  const cmd = skeleton('run', '-f FILE [flags]');
  cmd.addOption(new Option('-o, --output <mode>', 'Output mode for every gadget of the manifest'));
  cmd.addOption(new Option('--fields <list>', 'Fields to show'));
  if (!parseOrHelp(cmd, args)) return 0;
  const o = cmd.opts();
  const tmo = timeoutMs(String(o['timeout']));
  if (o['detach']) {
    for (const s of specs) {
      const inst = await client.createInstance({ id: s.id, name: s.name, tags: s.tags, nodes: s.nodes, gadgetConfig: { imageName: s.image, paramValues: serverValues(s), version: 1, timeout: '0' } });
      process.stdout.write(`${inst.id}\n`);
    }
    return 0;
  }
  const runs = specs.map((s) => {
    const values = new Map<string, string>(Object.entries(s.paramValues).filter(([k]) => k.startsWith(CLIENT_PREFIX)));
    if (o['output']) values.set(`${CLIENT_PREFIX}output`, String(o['output']));
    if (o['fields']) values.set(`${CLIENT_PREFIX}fields`, String(o['fields']));
    return stream(client, { imageName: s.image, paramValues: serverValues(s), timeoutMs: tmo }, values, log);
  });
  const results = await Promise.allSettled(runs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return 0;
}

function serverValues(s: InstanceSpec): Record<string, string> {
  return Object.fromEntries(Object.entries(s.paramValues).filter(([k]) => !k.startsWith(CLIENT_PREFIX)));
}

function readFile(file: string): string {
  try { return fs.readFileSync(file, 'utf8'); } catch (e) {
    throw new UsageError(`cannot read manifest ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** An instance by name or ID (or a unique ID prefix), as upstream looks them up. */
export async function findInstance(client: GadgetClient, key: string): Promise<ApiGadgetInstance> {
  const all = await client.listInstances();
  const exact = all.filter((i) => i.id === key || i.name === key);
  const hits = exact.length > 0 ? exact : all.filter((i) => key.length >= 1 && i.id.startsWith(key));
  if (hits.length === 0) throw new UsageError(`gadget instance "${key}" not found`);
  if (hits.length > 1) throw new UsageError(`gadget instance name or ID "${key}" is ambiguous (${hits.map((h) => h.id.slice(0, 12)).join(', ')})`);
  return hits[0]!;
}
