// `ig run IMAGE [flags]`: the image's params are only known after reading it, so flags are parsed twice:
// a pre-scan finds the image and run-level flags, then a full parse knows every gadget and operator param.
import { Command, Option, CommanderError } from 'commander';
import { prepareGadget } from '../runtime/assemble.js';
import { Logger } from '../gadget/logger.js';
import type { ParamDesc } from '../gadget/params.js';
import { parseDuration } from '../gadget/params.js';
import { defaultDataOperators } from '../runtime/operators.js';
import type { GadgetContext } from '../gadget/context.js';
import type { DataOperator } from '../gadget/operator.js';
import { reportError, UsageError } from './errors.js';
import { setWasmLimits } from '../operators/wasm/limits.js';
import { parseAnnotations } from '../gadget/annotate.js';
import { activeConfig } from '../config/config.js';
import { applyConfigToParams, configValue } from '../config/params.js';

/** Run-level flags with a value (needed to find the image among the arguments before the full parse). */
const VALUE_FLAGS = new Set(['-t', '--timeout', '--pull', '--public-keys', '--allowed-gadgets', '--insecure-registries', '--authfile', '--annotate', '--wasm-memory-limit', '--wasm-timeout']);

export function findImage(args: string[]): { image?: string; help: boolean; verbose: boolean } {
  let help = false;
  let verbose = false;
  let image: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { image ??= args[i + 1]; break; }
    if (a === '-h' || a === '--help') { help = true; continue; }
    if (a === '-v' || a === '--verbose') { verbose = true; continue; }
    if (a.startsWith('-')) { if (VALUE_FLAGS.has(a)) i++; continue; }
    image ??= a;
  }
  return { image, help, verbose };
}

export function runCommandSkeleton(): Command {
  const cmd = new Command('run')
    .usage('IMAGE [flags]')
    .description('Run a gadget image')
    .argument('<image>', 'gadget image, e.g. trace_open or ghcr.io/inspektor-gadget/gadget/trace_open:latest')
    .option('-t, --timeout <seconds>', 'Number of seconds to run the gadget (0: until Ctrl-C)', '0')
    .option('-v, --verbose', 'Print debug information and error details')
    .option('--pull <policy>', 'Pull policy: always, missing or never', 'missing')
    .option('--disallow-pulling', 'Never pull images from a registry')
    .option('--verify-image [bool]', 'Verify the image signature of pulled images', 'true')
    .option('--public-keys <pem-files>', 'Comma-separated public key files to verify image signatures with')
    .option('--allowed-gadgets <list>', 'Comma-separated list of allowed gadget images (trailing * for prefixes)')
    .option('--insecure-registries <list>', 'Comma-separated registries to access over plain HTTP')
    .option('--authfile <path>', 'Path of the registry credentials file')
    .option('--annotate <annotations>', 'Add annotations to data sources or fields: ds:annotation=value or ds.field:annotation=value (comma list; may repeat)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--wasm-memory-limit <size>', 'Largest memory the gadget\'s WASM module may grow to (e.g. 256MiB, 64MiB)', '256MiB')
    .option('--wasm-timeout <duration>', 'Longest one call into the gadget\'s WASM module may run before the run ends (e.g. 5s)', '5s')
    .helpOption('-h, --help', 'Help for run');
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  return cmd;
}

export function addParamOptions(cmd: Command, params: ParamDesc[], log: Logger): Map<string, ParamDesc> {
  const byAttr = new Map<string, ParamDesc>();
  const taken = new Set(cmd.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]));
  for (const p of params) {
    const long = `--${p.key}`;
    if (taken.has(long)) { log.debug(`param ${(p.prefix ?? '') + p.key} hidden by an earlier flag ${long}`); continue; }
    const short = p.alias && !taken.has(`-${p.alias}`) ? `-${p.alias}, ` : '';
    const isBool = p.typeHint === 'bool';
    const flags = `${short}${long} ${isBool ? '[bool]' : `<${p.typeHint && p.typeHint !== 'string' ? p.typeHint : 'value'}>`}`;
    const o = new Option(flags, p.description ?? '');
    if (p.defaultValue !== undefined && p.defaultValue !== '') o.default(p.defaultValue);
    if (isBool) o.preset('true');
    if (p.possibleValues?.length) o.choices(p.possibleValues);
    cmd.addOption(o);
    taken.add(long);
    if (short) taken.add(`-${p.alias}`);
    byAttr.set(o.attributeName(), p);
  }
  return byAttr;
}

export interface RunDeps { operators?: DataOperator[] }

export async function runCommand(args: string[], deps: RunDeps = {}): Promise<number> {
  const pre = findImage(args);
  const log = new Logger(pre.verbose ? 'debug' : 'warn');
  if (!pre.image) {
    const cmd = runCommandSkeleton();
    if (pre.help) { process.stdout.write(cmd.helpInformation()); return 0; }
    reportError(new UsageError('ig run needs a gadget image, e.g. ig run trace_open'), false);
    return 1;
  }
  let ctx: GadgetContext | undefined;
  try {
    const skel = runCommandSkeleton();
    // A first lenient parse for the image options (pull policy, keys) before reading the image.
    skel.allowUnknownOption(true).allowExcessArguments(true).helpOption(false);
    skel.parse(args.filter((a) => a !== '-h' && a !== '--help'), { from: 'user' });
    // Image options are operator.oci.* params: flag, else env/config file, else the default above.
    const o0 = ociOptions(skel);
    const pull = String(o0.pull);
    if (!['always', 'missing', 'never'].includes(pull)) throw new UsageError(`invalid value "${pull}" for --pull: must be always, missing or never`);
    setWasmLimits({ memoryLimitBytes: parseSize(String(o0.wasmMemoryLimit), '--wasm-memory-limit'), timeoutMs: parseWasmTimeout(String(o0.wasmTimeout)) });
    ctx = await prepareGadget(pre.image, {
      log,
      operators: deps.operators ?? defaultDataOperators(),
      image: {
        pull: pull as 'always' | 'missing' | 'never',
        disallowPulling: String(o0.disallowPulling) === 'true',
        verifyImage: String(o0.verifyImage) !== 'false',
        publicKeys: o0.publicKeys ? String(o0.publicKeys).split(',') : undefined,
        allowedGadgets: o0.allowedGadgets ? String(o0.allowedGadgets).split(',') : undefined,
        insecureRegistries: o0.insecureRegistries ? String(o0.insecureRegistries).split(',') : undefined,
        authFile: o0.authfile ? String(o0.authfile) : undefined,
      },
      annotate: parseAnnotations(o0.annotate === undefined ? [] : Array.isArray(o0.annotate) ? o0.annotate.map(String) : [String(o0.annotate)]),
    });
    const cmd = runCommandSkeleton();
    cmd.usage(`${pre.image} [flags]`).description(`Run ${ctx.name}${ctx.metadata.description ? `: ${ctx.metadata.description}` : ''}`);
    const byAttr = addParamOptions(cmd, ctx.params.all(), log);
    try {
      cmd.parse(args, { from: 'user' });
    } catch (e) {
      if (e instanceof CommanderError) {
        if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return 0;
        throw new UsageError(commanderMessage(e));
      }
      throw e;
    }
    if (cmd.args.length > 1) throw new UsageError(`unexpected argument "${cmd.args[1]}" after the image`);
    const opts = cmd.opts();
    const fromCli = new Set<string>();
    for (const [attr, p] of byAttr) {
      if (cmd.getOptionValueSource(attr) !== 'cli') continue;
      ctx.params.set((p.prefix ?? '') + p.key, String(opts[attr]));
      fromCli.add((p.prefix ?? '') + p.key);
    }
    applyConfigToParams(activeConfig(), ctx.params, fromCli);
    const timeoutSec = Number(opts.timeout);
    if (!Number.isFinite(timeoutSec) || timeoutSec < 0) {
      try { parseDuration(String(opts.timeout)); } catch { throw new UsageError(`invalid value "${opts.timeout}" for --timeout: expected a number of seconds`); }
    }
    const timeoutMs = Number.isFinite(timeoutSec) ? timeoutSec * 1000 : parseDuration(String(opts.timeout));
    const stopOn = (sig: NodeJS.Signals) => {
      let count = 0;
      process.on(sig, () => {
        if (++count > 1) process.exit(130);
        ctx?.done(sig);
      });
    };
    stopOn('SIGINT');
    stopOn('SIGTERM');
    process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') ctx?.done('stdout closed'); });
    await ctx.run({ timeoutMs });
    return 0;
  } catch (e) {
    reportError(e, pre.verbose);
    return 1;
  }
}

/** The skeleton's image options, with env/config-file values (operator.oci.<flag>) for those not on the command line. */
function ociOptions(skel: Command): Record<string, unknown> {
  const out = { ...skel.opts() } as Record<string, unknown>;
  for (const o of skel.options) {
    const attr = o.attributeName();
    if (!o.long || ['timeout', 'verbose'].includes(attr) || skel.getOptionValueSource(attr) === 'cli') continue;
    const v = configValue(activeConfig(), `operator.oci.${o.long.slice(2)}`);
    if (v) out[attr] = attr === 'annotate' ? [v.value] : v.value;
  }
  return out;
}

/** "256MiB", "64M", "1GiB", "1048576": bytes. */
export function parseSize(v: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$/i.exec(v);
  if (!m) throw new UsageError(`invalid value "${v}" for ${flag}: expected a size like 256MiB`);
  const unit = m[2]!.toLowerCase().replace(/i?b$/, '');
  const n = Math.floor(Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit]!);
  if (n < 65536 || n > 4 * 1024 ** 3) throw new UsageError(`invalid value "${v}" for ${flag}: must be between 64KiB and 4GiB`);
  return n;
}

function parseWasmTimeout(v: string): number {
  let ms: number;
  try { ms = parseDuration(v); } catch { throw new UsageError(`invalid value "${v}" for --wasm-timeout: expected a duration like 5s or 500ms`); }
  if (!(ms >= 1)) throw new UsageError(`invalid value "${v}" for --wasm-timeout: must be at least 1ms`);
  return Math.round(ms);
}

export function commanderMessage(e: CommanderError): string {
  const m = e.message.replace(/^error:\s*/i, '');
  const unknown = /unknown option '([^']+)'/.exec(m);
  if (unknown) return `unknown flag: ${unknown[1]} (see ig run IMAGE --help)`;
  return m;
}
