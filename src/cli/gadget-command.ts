// The second parse of `ig run IMAGE` and `ig replay FILE`: once the gadget is assembled its params are known, so
// the command is rebuilt with them as flags (plus hidden flags most gadgets have, to refuse them with a reason),
// parsed, and the values the command line gave are set on the context. Both commands share it.
import { CommanderError, Option, type Command } from 'commander';
import type { GadgetContext } from '../gadget/context.js';
import type { Logger } from '../gadget/logger.js';
import { UsageError } from './errors.js';
import { addParamOptions, commanderMessage } from './param-flags.js';
import { fieldsHelp } from './run-help.js';
import { COMMON_FLAGS, type KnownFlag } from './run-flags.js';

export interface GadgetCommandSpec {
  /** A fresh command with the command's own flags (runCommandSkeleton, replay's skeleton). */
  skeleton: () => Command;
  /** `IMAGE [flags]`, `FILE [flags]` with the actual image or file. */
  usage: string;
  description: string;
  /** -h/--help was given: the help (with the gadget's fields) is printed. */
  help: boolean;
  log: Logger;
  /** What the first argument is, for "unexpected argument … after the image". */
  what: string;
  /** Where the one-line errors send for help (`ig run IMAGE --help`, `ig replay FILE --help`). */
  helpCommand: string;
  /** The gadget as messages name it ({g} of the absent flags' reasons). */
  gadget: string;
}

/**
 * Flags most gadgets have but this one lacks: hidden options, so that using one is either accepted (--host on a
 * host-wide gadget) or refused with the reason instead of "unknown flag".
 */
export function addAbsentCommonFlags(cmd: Command): Map<string, KnownFlag> {
  const absent = new Map<string, KnownFlag>();
  const taken = new Set(cmd.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]));
  for (const f of COMMON_FLAGS) {
    if (taken.has(`--${f.long}`)) continue;
    const short = f.short && !taken.has(`-${f.short}`) ? `-${f.short}, ` : '';
    const o = new Option(`${short}--${f.long} ${f.value ? '<value>' : '[bool]'}`).hideHelp();
    if (!f.value) o.preset('true');
    cmd.addOption(o);
    absent.set(o.attributeName(), f);
  }
  return absent;
}

export interface GadgetCommandResult {
  cmd: Command;
  opts: Record<string, unknown>;
  /** Full keys of the params the command line set. */
  fromCli: Set<string>;
}

/** Parse `args` with the gadget's flags and set them; undefined when help was printed. Errors are UsageErrors. */
export function parseGadgetCommand(ctx: GadgetContext, args: string[], spec: GadgetCommandSpec): GadgetCommandResult | undefined {
  const cmd = spec.skeleton();
  cmd.usage(spec.usage).description(spec.description);
  const byAttr = addParamOptions(cmd, ctx.params.all(), spec.log);
  const absent = addAbsentCommonFlags(cmd);
  if (spec.help) cmd.addHelpText('after', fieldsHelp(ctx));
  try {
    cmd.parse(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return undefined;
      throw new UsageError(commanderMessage(e, cmd).replace(/\(see ig run \S+ --help\)$/, `(see ${spec.helpCommand})`));
    }
    throw e;
  }
  if (cmd.args.length > 1) throw new UsageError(`unexpected argument "${cmd.args[1]}" after the ${spec.what}`);
  const opts = cmd.opts();
  for (const [attr, f] of absent) {
    if (cmd.getOptionValueSource(attr) !== 'cli') continue;
    if (f.harmlessWhenAbsent) { spec.log.debug(f.harmlessWhenAbsent.replace('{g}', spec.gadget)); continue; }
    throw new UsageError(`--${f.long}: ${(f.absentReason ?? '{g} has no such flag').replace('{g}', spec.gadget)}`);
  }
  const fromCli = new Set<string>();
  for (const [attr, p] of byAttr) {
    if (cmd.getOptionValueSource(attr) !== 'cli') continue;
    const key = (p.prefix ?? '') + p.key;
    ctx.params.set(key, String(opts[attr]));
    fromCli.add(key);
  }
  return { cmd, opts, fromCli };
}
