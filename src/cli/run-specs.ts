// `ig run -f FILE`: run the gadget instance specs of a manifest (upstream's format, several documents per file)
// locally, side by side in this process, until Ctrl-C, SIGTERM or --timeout. Params come from each spec's
// paramValues; -o/--fields apply to every gadget.
import * as fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { prepareGadget } from '../runtime/assemble.js';
import { defaultDataOperators } from '../runtime/operators.js';
import { kubeSourcesFromEnv } from '../kube/index.js';
import { Logger } from '../gadget/logger.js';
import { parseDuration } from '../gadget/params.js';
import { parseInstanceSpecs } from '../gadget/instance-spec.js';
import type { GadgetContext } from '../gadget/context.js';
import { reportError, UsageError } from './errors.js';

export function wantsSpecFile(args: string[]): boolean {
  return args.some((a) => a === '-f' || a === '--file' || a.startsWith('--file='));
}

export async function runSpecFile(args: string[]): Promise<number> {
  const verbose = args.includes('-v') || args.includes('--verbose');
  const log = new Logger(verbose ? 'debug' : 'warn');
  const ctxs: GadgetContext[] = [];
  try {
    const cmd = new Command('run').usage('-f FILE [flags]')
      .requiredOption('-f, --file <file>', 'Manifest of gadget instance specs (- for stdin)')
      .option('-o, --output <mode>', 'Output mode for every gadget of the manifest')
      .option('--fields <list>', 'Fields to show')
      .option('-t, --timeout <seconds>', 'Number of seconds to run (0: until Ctrl-C)', '0')
      .option('-v, --verbose', 'Print debug information and error details')
      .helpOption('-h, --help', 'Help for run -f')
      .exitOverride()
      .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
    try { cmd.parse(args, { from: 'user' }); } catch (e) {
      if (e instanceof CommanderError) {
        if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return 0;
        throw new UsageError(`${e.message.replace(/^error:\s*/i, '')} (ig run -f FILE takes -o, --fields, --timeout; the rest goes in the specs)`);
      }
      throw e;
    }
    if (cmd.args.length > 0) throw new UsageError('please give an image OR a manifest (-f), not both');
    const o = cmd.opts();
    const file = String(o['file']);
    let text: string;
    try { text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8'); } catch (e) {
      throw new UsageError(`cannot read manifest ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    const specs = parseInstanceSpecs(text, file);
    const t = String(o['timeout']);
    const timeoutMs = /^\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : (() => { try { return parseDuration(t); } catch { throw new UsageError(`invalid value "${t}" for --timeout: expected a number of seconds`); } })();
    // Several gadgets print to one stdout: each line must come from this thread (no reader-thread rendering).
    if (specs.length > 1) process.env['IG_NATIVE_RENDER'] = '0';
    const kube = await kubeSourcesFromEnv((m) => log.warn(m));
    for (const s of specs) {
      const ctx = await prepareGadget(s.image, { log, operators: defaultDataOperators({ kube }) });
      ctxs.push(ctx);
      const values = { ...s.paramValues };
      if (o['output']) values['operator.cli.output'] = String(o['output']);
      if (o['fields']) values['operator.cli.fields'] = String(o['fields']);
      for (const [k, v] of Object.entries(values)) {
        try { ctx.params.set(k, v); } catch (e) { throw new UsageError(`${file}: ${s.name || s.image}: ${(e as Error).message}`); }
      }
    }
    let signals = 0;
    const stopAll = () => { if (++signals > 1) process.exit(130); for (const c of ctxs) c.done('signal'); };
    process.on('SIGINT', stopAll);
    process.on('SIGTERM', stopAll);
    // One gadget failing to start stops the others: a manifest runs as a whole.
    const runs = ctxs.map((c) => c.run({ timeoutMs }).catch((e: unknown) => { for (const x of ctxs) x.done('another gadget failed'); throw e; }));
    const results = await Promise.allSettled(runs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return 0;
  } catch (e) {
    reportError(e, verbose);
    return 1;
  }
}
