// `ig replay FILE [flags]`: a recording (ig run --record) through the same pipeline as a live run, with the
// recorded image's flags (-o, --fields, --filter, --sort, --max-entries, metrics, …). `--info` summarises it.
import { Command, CommanderError } from 'commander';
import { knownFlag } from './run-flags.js';
import { Logger } from '../gadget/logger.js';
import { defaultDataOperators } from '../runtime/operators.js';
import { prepareReplay } from '../runtime/replay.js';
import { openRecording, recordingInfo, type RecordingInfo } from '../record/recording.js';
import { setWasmLimits } from '../operators/wasm/limits.js';
import { reportError, UsageError, isDebug } from './errors.js';
import { commanderMessage } from './param-flags.js';
import { parseAnnotations } from '../gadget/annotate.js';
import { parseSize, parseWasmTimeout } from './run.js';
import { parseGadgetCommand } from './gadget-command.js';
import type { GadgetContext } from '../gadget/context.js';

const VALUE_FLAGS = new Set(['--speed', '--annotate', '--wasm-memory-limit', '--wasm-timeout', '-o', '--output', '--fields', '-F', '--filter', '-E', '--filter-expr', '--sort', '--max-entries']);

/** The recording's path: the first argument that is no flag (nor a flag's value). */
function findFile(args: string[]): { file?: string; help: boolean; verbose: boolean; info: boolean } {
  let file: string | undefined;
  let help = false; let verbose = false; let info = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { file ??= args[i + 1]; break; }
    if (a === '-h' || a === '--help') { help = true; continue; }
    if (a === '-v' || a === '--verbose') { verbose = true; continue; }
    if (a === '--info') { info = true; continue; }
    if (a.startsWith('-') && a.length > 1) {
      if ((VALUE_FLAGS.has(a) || knownFlag(a)?.value) && !a.includes('=')) i++;
      continue;
    }
    file ??= a;
  }
  return { file, help, verbose, info };
}

function skeleton(): Command {
  const cmd = new Command('ig replay')
    .usage('FILE [flags]')
    .description('Replay a recording (ig run IMAGE --record FILE) through the same pipeline as a live run')
    .argument('<file>', 'recording written by ig run --record')
    .option('-v, --verbose', 'Print what ig does and error details')
    .option('--info', 'Summarise the recording (image, duration, counts, lost events, containers) instead of replaying it')
    .option('--speed <factor>', 'Replay speed: 0 as fast as possible, 1 as recorded, 2 twice as fast', '0')
    .option('--annotate <annotations>', 'Add annotations to data sources or fields: ds:annotation=value or ds.field:annotation=value',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--wasm-memory-limit <size>', 'Largest memory the gadget\'s WASM module may grow to (e.g. 256MiB)', '256MiB')
    .option('--wasm-timeout <duration>', 'Longest one call into the gadget\'s WASM module may run (e.g. 5s)', '5s')
    .helpOption('-h, --help', 'Help for replay');
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  return cmd;
}

export async function replayCommand(args: string[]): Promise<number> {
  const pre = findFile(args);
  const log = new Logger(pre.verbose ? 'debug' : 'warn');
  if (!pre.file) {
    if (pre.help) { process.stdout.write(skeleton().helpInformation()); return 0; }
    reportError(new UsageError('ig replay needs a recording, e.g. ig replay /tmp/run.igrec (write one with ig run IMAGE --record FILE)'), false);
    return 1;
  }
  let ctx: GadgetContext | undefined;
  try {
    if (pre.info) { process.stdout.write(formatInfo(recordingInfo(pre.file))); return 0; }
    const skel = skeleton().allowUnknownOption(true).allowExcessArguments(true).helpOption(false);
    try { skel.parse(args.filter((a) => a !== '-h' && a !== '--help'), { from: 'user' }); } catch (e) {
      if (e instanceof CommanderError) throw new UsageError(commanderMessage(e, skel));
      throw e;
    }
    const o0 = skel.opts();
    const speed = Number(o0.speed);
    if (!Number.isFinite(speed) || speed < 0) throw new UsageError(`invalid value "${String(o0.speed)}" for --speed: expected 0 (as fast as possible) or a factor like 1 or 2.5`);
    setWasmLimits({ memoryLimitBytes: parseSize(String(o0.wasmMemoryLimit), '--wasm-memory-limit'), timeoutMs: parseWasmTimeout(String(o0.wasmTimeout)) });
    const rec = openRecording(pre.file);
    ctx = await prepareReplay(rec, {
      log, speed, operators: defaultDataOperators(),
      annotate: parseAnnotations(o0.annotate === undefined ? [] : (o0.annotate as string[]).map(String)),
    });
    const parsed = parseGadgetCommand(ctx, args, {
      skeleton, usage: `${pre.file} [flags]`,
      description: `Replay ${ctx.name} recorded ${new Date(rec.header.startedAt).toISOString()} on ${rec.header.hostname}`,
      help: pre.help, log, gadget: ctx.name, helpCommand: `ig replay ${pre.file} --help`,
      what: 'recording (one recording per replay)',
    });
    if (!parsed) return 0;
    const c = ctx;
    let count = 0;
    const stop = () => { if (++count > 1) process.exit(130); c.done('signal'); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') c.done('stdout closed'); });
    await ctx.run();
    return 0;
  } catch (e) {
    reportError(e, pre.verbose || isDebug());
    return 1;
  }
}

function formatInfo(i: RecordingInfo): string {
  const h = i.header;
  const lines = [
    `File:        ${i.path} (${i.bytes} bytes, ${i.chunks} chunks${h.part ? `, part ${h.part} of a rotated recording` : ''})`,
    `Image:       ${h.image.reference} ${h.image.digest}`,
    `Recorded:    ${new Date(h.startedAt).toISOString()} on ${h.hostname} (kernel ${h.kernel}, ${h.arch}) by ig ${h.ig || '?'}`,
    `Duration:    ${(i.durationMs / 1000).toFixed(3)}s`,
    `Ended:       ${i.end !== undefined ? i.end : 'no end mark (the recording run did not finish)'}`,
  ];
  const params = Object.entries(i.params);
  if (params.length) lines.push(`Params:      ${params.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  lines.push('Data sources:');
  if (i.dataSources.length === 0) lines.push('  (no batches)');
  for (const d of i.dataSources) lines.push(`  ${d.name}: ${d.records} records in ${d.batches} batches, ${d.lost} lost`);
  lines.push(`Containers:  ${i.containers.length === 0 ? 'none' : i.containers.map((c) => `${c.name || c.id.slice(0, 12)} (${c.runtime})`).join(', ')}`);
  const facts = Object.entries(i.facts);
  lines.push(`Host facts:  ${facts.length === 0 ? 'none' : facts.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (i.stopped) lines.push(`Damage:      ${i.stopped}`);
  return lines.join('\n') + '\n';
}
