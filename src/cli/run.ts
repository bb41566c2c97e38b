// `ig run IMAGE [flags]`: the image's params are only known after reading it, so flags are parsed twice:
// a pre-scan finds the image and run-level flags (flags may come before or after the image), then a full parse
// knows every gadget and operator param.
import { Command, Option, CommanderError } from 'commander';
import { prepareGadgetFromImage } from '../runtime/assemble.js';
import { getGadgetImage } from '../oci/image-load.js';
import { HostFacts } from '../gadget/host-facts.js';
import { RecordingWriter } from '../record/writer.js';
import { igVersion } from './version.js';
import { Logger } from '../gadget/logger.js';
import { shrinkAfterStart } from './resident-set.js';
import type { ParamDesc } from '../gadget/params.js';
import { parseDuration } from '../gadget/params.js';
import { defaultDataOperators } from '../runtime/operators.js';
import type { GadgetContext } from '../gadget/context.js';
import type { DataOperator } from '../gadget/operator.js';
import { setWasmLimits } from '../operators/wasm/limits.js';
import { reportError, UsageError, isDebug } from './errors.js';
import { runSpecFile, wantsSpecFile } from './run-specs.js';
import { didYouMean } from '../gadget/suggest.js';
import { RUN_FLAGS, COMMON_FLAGS, ALL_KNOWN, knownFlag } from './run-flags.js';
import { addParamOptions, commanderMessage } from './param-flags.js';
import { parseGadgetCommand } from './gadget-command.js';

// Kept importable from here (gadgetctl and kubectl-gadget import the light module directly).
export { addParamOptions, commanderMessage };
import { checkGadgetName } from './gadget-names.js';
import { requirePrivileges } from './privileges.js';
import { parseAnnotations } from '../gadget/annotate.js';
import { activeConfig } from '../config/config.js';
import { applyConfigToParams, configValue } from '../config/params.js';
import { kubeSourcesFromEnv } from '../kube/index.js';
import { recordKubeSources } from '../operators/common/kube-facts.js';
import { installStoreCoreBtf } from '../runtime/core-btf-store.js';

/** setTimeout cannot wait longer (2^31-1 ms, about 24.8 days); a longer value fires after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export function findImage(args: string[]): { image?: string; help: boolean; verbose: boolean } {
  let help = false;
  let verbose = false;
  let image: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { image ??= args[i + 1]; break; }
    if (a === '-h' || a === '--help') { help = true; continue; }
    if (a === '-v' || a === '--verbose') { verbose = true; continue; }
    if (a.startsWith('-') && a.length > 1) {
      // A known flag with a value takes the next argument, unless given as --flag=value.
      const k = knownFlag(a);
      if (k?.value && !a.includes('=')) i++;
      continue;
    }
    image ??= a;
  }
  return { image, help, verbose };
}

/** --timeout: seconds (a bare number, as upstream) or a duration; 0 runs until Ctrl-C. */
export function parseTimeout(v: string): number {
  const s = v.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(s)) ms = Number(s) * 1000;
  else {
    try { ms = parseDuration(s); } catch { throw new UsageError(`invalid value "${v}" for --timeout: expected seconds (5) or a duration (500ms, 2m)`); }
  }
  if (!Number.isFinite(ms)) throw new UsageError(`invalid value "${v}" for --timeout: expected seconds (5) or a duration (500ms, 2m)`);
  if (ms > MAX_TIMEOUT_MS) {
    throw new UsageError(`invalid value "${v}" for --timeout: longer than the longest timeout, ${Math.floor(MAX_TIMEOUT_MS / 1000)}s (about 24.8 days); use 0 to run until Ctrl-C`);
  }
  if (ms > 0 && ms < 1) throw new UsageError(`invalid value "${v}" for --timeout: shorter than 1ms`);
  return Math.round(ms);
}

export function runCommandSkeleton(): Command {
  const cmd = new Command('ig run')
    .usage('IMAGE [flags]')
    .description('Run a gadget image')
    .argument('<image>', 'gadget image, e.g. trace_open or ghcr.io/inspektor-gadget/gadget/trace_open:latest')
    .option('-t, --timeout <duration>', RUN_FLAGS[0]!.description, '0')
    .option('-v, --verbose', RUN_FLAGS[1]!.description)
    .option('--pull <policy>', 'Pull policy: always, missing or never', 'missing')
    .option('--disallow-pulling', 'Never pull images from a registry')
    .option('--verify-image [bool]', 'Verify the image signature of pulled images', 'true')
    .option('--public-keys <pem-files>', 'Comma-separated public key files to verify image signatures with (default: the Inspektor Gadget project key)')
    .option('--allowed-gadgets <list>', 'Comma-separated list of allowed gadget images (trailing * for prefixes)')
    .option('--insecure-registries <list>', 'Comma-separated registries to access over plain HTTP')
    .option('--authfile <path>', 'Path of the registry credentials file')
    .option('--annotate <annotations>', 'Add annotations to data sources or fields: ds:annotation=value or ds.field:annotation=value (comma list; may repeat)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--wasm-memory-limit <size>', 'Largest memory the gadget\'s WASM module may grow to (e.g. 256MiB, 64MiB)', '256MiB')
    .option('--wasm-timeout <duration>', 'Longest one call into the gadget\'s WASM module may run before the run ends (e.g. 5s)', '5s')
    .option('--record <file>', RUN_FLAGS.find((f) => f.long === 'record')!.description)
    .option('--record-max-size <size>', RUN_FLAGS.find((f) => f.long === 'record-max-size')!.description)
    .option('--record-max-files <n>', RUN_FLAGS.find((f) => f.long === 'record-max-files')!.description, '5')
    .helpOption('-h, --help', 'Help for run');
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  return cmd;
}

/** `ig run --help` without an image: ig run's flags and those most gadgets have. */
export function runHelpWithoutImage(): string {
  const cmd = runCommandSkeleton();
  cmd.usage('[flags] IMAGE [flags]');
  for (const f of COMMON_FLAGS) cmd.addOption(new Option(`${f.short ? `-${f.short}, ` : ''}--${f.long}${f.value ? ' <value>' : ''}`, f.description));
  return cmd.helpInformation() + '\n' + [
    'Each gadget adds its own params (e.g. --failed for trace_open) and lists its fields:',
    '  ig run IMAGE --help',
    'Gadgets in the local store: ig image list',
    '',
    'Examples:',
    '  ig run trace_open --host',
    '  ig run -o json trace_exec -c web',
    '  ig run trace_open --host --filter proc.comm==cat --fields proc.comm,proc.pid,fname,error',
    '',
  ].join('\n');
}

export { addAbsentCommonFlags } from './gadget-command.js';

export interface RunDeps { operators?: DataOperator[] }

export async function runCommand(args: string[], deps: RunDeps = {}): Promise<number> {
  if (wantsSpecFile(args)) return runSpecFile(args);
  const pre = findImage(args);
  const log = new Logger(pre.verbose ? 'debug' : 'warn');
  if (!pre.image) {
    if (pre.help) { process.stdout.write(runHelpWithoutImage()); return 0; }
    reportError(new UsageError('ig run needs a gadget image, e.g. ig run trace_open (ig image list shows the local ones, ig run --help the flags)'), false);
    return 1;
  }
  let ctx: GadgetContext | undefined;
  let recorder: RecordingWriter | undefined;
  let endReason = 'done';
  try {
    const skel = runCommandSkeleton();
    // A first lenient parse for the image options (pull policy, keys) before reading the image.
    skel.allowUnknownOption(true).allowExcessArguments(true).helpOption(false);
    try {
      skel.parse(args.filter((a) => a !== '-h' && a !== '--help'), { from: 'user' });
    } catch (e) {
      if (e instanceof CommanderError) throw new UsageError(commanderMessage(e, skel));
      throw e;
    }
    // Image options are operator.oci.* params: flag, else env/config file, else the default above.
    const o0 = ociOptions(skel);
    const pull = String(o0.pull);
    if (!['always', 'missing', 'never'].includes(pull)) throw new UsageError(`invalid value "${pull}" for --pull: must be always, missing or never`);
    setWasmLimits({ memoryLimitBytes: parseSize(String(o0.wasmMemoryLimit), '--wasm-memory-limit'), timeoutMs: parseWasmTimeout(String(o0.wasmTimeout)) });
    // Impossible values are refused before anything is read or loaded.
    const timeoutMs = parseTimeout(String(o0.timeout));
    const record = o0.record !== undefined && !pre.help ? recordOptions(o0) : undefined;
    if (!pre.help) requirePrivileges();
    performance.mark('ig:run');
    // Minimized kernel BTF per object in the store (runtime/core-btf-store.ts); IG_CORE_BTF=0 turns it off.
    if (!pre.help) installStoreCoreBtf(log);
    await checkGadgetName(pre.image, log);
    const img = await getGadgetImage(pre.image, {
        pull: pull as 'always' | 'missing' | 'never',
        disallowPulling: String(o0.disallowPulling) === 'true',
        verifyImage: String(o0.verifyImage) !== 'false',
        publicKeys: o0.publicKeys ? String(o0.publicKeys).split(',') : undefined,
        allowedGadgets: o0.allowedGadgets ? String(o0.allowedGadgets).split(',') : undefined,
        insecureRegistries: o0.insecureRegistries ? String(o0.insecureRegistries).split(',') : undefined,
        authFile: o0.authfile ? String(o0.authfile) : undefined,
    });
    if (record) {
      // Opened before anything is loaded: a path that cannot be written costs no kernel work.
      recorder = new RecordingWriter(record.path, { maxFileBytes: record.maxFileBytes, maxFiles: record.maxFiles, onError: (e) => ctx?.fail(e) });
      recorder.begin(img, igVersion());
    }
    const facts = recorder ? HostFacts.record(recorder) : undefined;
    const kube = deps.operators ? undefined : await kubeSourcesFromEnv((m) => log.warn(m));
    ctx = await prepareGadgetFromImage(img, {
      log,
      // A recording run logs what the API server answered (operators/common/kube-facts.ts).
      operators: deps.operators ?? defaultDataOperators({ kube: kube && facts ? recordKubeSources(kube, facts) : kube }),
      facts,
      recording: recorder,
      annotate: parseAnnotations(o0.annotate === undefined ? [] : Array.isArray(o0.annotate) ? o0.annotate.map(String) : [String(o0.annotate)]),
    });
    performance.mark('ig:image');
    const parsed = parseGadgetCommand(ctx, args, {
      skeleton: runCommandSkeleton, usage: `${pre.image} [flags]`,
      description: `Run ${ctx.name}${ctx.metadata.description ? `: ${ctx.metadata.description}` : ''}`,
      help: pre.help, log, gadget: pre.image, helpCommand: `ig run ${pre.image} --help`,
      what: 'image (one gadget per run; a flag value with spaces needs quotes)',
    });
    if (!parsed) return 0;
    const { fromCli } = parsed;
    applyConfigToParams(activeConfig(), ctx.params, fromCli);
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
    performance.mark('ig:prepared');
    recorder?.params(ctx.params.setValues());
    ctx.signal.addEventListener('abort', () => { endReason = String(ctx?.signal.reason ?? 'done'); }, { once: true });
    shrinkAfterStart(ctx, log);
    await ctx.run({ timeoutMs });
    await recorder?.close(endReason);
    if (recorder) log.debug(`recording ${recorder.path}: ${recorder.stats.batches} batches, ${recorder.stats.records} records, ${recorder.stats.facts} host facts, ${recorder.stats.lost} lost, ${recorder.stats.files} file(s)`);
    return 0;
  } catch (e) {
    // What was recorded until the failure stays readable (it ends with the reason).
    await recorder?.close(`error: ${(e as Error).message}`).catch(() => undefined);
    reportError(e, pre.verbose || isDebug());
    return 1;
  }
}

function recordOptions(o: Record<string, unknown>): { path: string; maxFileBytes: number; maxFiles: number } {
  const path = String(o.record);
  if (!path) throw new UsageError('--record needs a file name, e.g. --record /tmp/run.igrec');
  const maxFileBytes = o.recordMaxSize !== undefined ? parseSize(String(o.recordMaxSize), '--record-max-size') : 0;
  const files = String(o.recordMaxFiles ?? '5');
  if (!/^\d+$/.test(files) || Number(files) < 1 || Number(files) > 1000) throw new UsageError(`invalid value "${files}" for --record-max-files: expected a number from 1 to 1000`);
  return { path, maxFileBytes, maxFiles: Number(files) };
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

export function parseWasmTimeout(v: string): number {
  let ms: number;
  try { ms = parseDuration(v); } catch { throw new UsageError(`invalid value "${v}" for --wasm-timeout: expected a duration like 5s or 500ms`); }
  if (!(ms >= 1)) throw new UsageError(`invalid value "${v}" for --wasm-timeout: must be at least 1ms`);
  if (ms > MAX_TIMEOUT_MS) throw new UsageError(`invalid value "${v}" for --wasm-timeout: longer than ${MAX_TIMEOUT_MS}ms (about 24.8 days)`);
  return Math.round(ms);
}

