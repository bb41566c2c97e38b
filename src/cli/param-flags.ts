// A gadget's params as command-line flags, and commander's errors as one line: shared by `ig run`, gadgetctl and
// kubectl-gadget. A module of its own with light imports: the remote clients must not load ig's whole runtime
// (operators, eBPF, WASM) just to parse flags (that was a large part of gadgetctl's time to the first event).
import { Option, type Command, type CommanderError } from 'commander';
import type { ParamDesc } from '../gadget/params.js';
import type { Logger } from '../gadget/logger.js';
import { ALL_KNOWN } from './run-flags.js';
import { didYouMean } from '../gadget/suggest.js';

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
  // Alternative keys (upstream's second names, e.g. --k8s-selector for KubeManager's --selector): hidden flags
  // for the same param, after every main key so that none shadows another param's main flag.
  for (const p of params) {
    const alt = p.alternativeKey ? `--${p.alternativeKey}` : '';
    if (!alt || taken.has(alt) || ![...byAttr.values()].includes(p)) continue;
    const o = new Option(`${alt} ${p.typeHint === 'bool' ? '[bool]' : '<value>'}`).hideHelp();
    if (p.typeHint === 'bool') o.preset('true');
    cmd.addOption(o);
    taken.add(alt);
    byAttr.set(o.attributeName(), p);
  }
  return byAttr;
}

/** Commander's message as one line for people; an unknown flag gets the nearest known one. */
export function commanderMessage(e: CommanderError, cmd?: Command): string {
  const m = e.message.replace(/^error:\s*/i, '').replace(/\s*\(Did you mean [^)]*\)\s*$/i, '');
  const unknown = /unknown option '([^']+)'/.exec(m);
  if (unknown) {
    const flag = unknown[1]!.split('=')[0]!;
    const longs = [...(cmd?.options ?? []).filter((o) => !o.hidden && o.long).map((o) => o.long!.slice(2)), ...ALL_KNOWN.map((f) => f.long)];
    const hint = flag.startsWith('--') ? didYouMean(flag.slice(2), longs, (c) => `--${c}`) : '';
    return `unknown flag: ${flag}${hint} (see ig run ${cmd?.args[0] ?? 'IMAGE'} --help)`;
  }
  return m;
}
