// `ig completion bash|zsh|fish`: a small script per shell that asks ig itself what may come next
// (`ig __complete WORDS... CURRENT`, one candidate a line), so completion knows commands, flags, the gadgets in
// the local store and each gadget's own params without being regenerated.
import type { Command } from 'commander';
import { prepareGadget } from '../runtime/assemble.js';
import { Logger } from '../gadget/logger.js';
import { defaultDataOperators } from '../runtime/operators.js';
import { OUTPUT_MODES } from '../operators/cli/operator.js';
import { RUNTIME_NAMES } from '../containers/index.js';
import { ALL_KNOWN, knownFlag } from './run-flags.js';
import { findImage } from './run.js';
import { localGadgetNames } from './gadget-names.js';
import { UsageError } from './errors.js';

const SCRIPTS: Record<string, string> = {
  bash: `# bash completion for ig: source <(ig completion bash)
_ig_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "$cur"))
}
complete -o default -F _ig_complete ig
`,
  zsh: `#compdef ig
# zsh completion for ig: source <(ig completion zsh)   (after compinit)
_ig() {
  local -a candidates
  candidates=("\${(@f)$(\${words[1]} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _ig ig
`,
  fish: `# fish completion for ig: ig completion fish | source
function __ig_complete
    set -l tokens (commandline -opc)
    $tokens[1] __complete $tokens[2..-1] (commandline -ct) 2>/dev/null
end
complete -c ig -f -a '(__ig_complete)'
`,
};

export function completionScript(shell: string): string {
  const s = SCRIPTS[shell];
  if (!s) throw new UsageError(`unsupported shell "${shell}": use bash, zsh or fish`);
  return s;
}

export function registerCompletion(program: Command): void {
  program.command('completion')
    .description('Print a shell completion script (bash, zsh or fish): source <(ig completion bash)')
    .argument('<shell>', 'bash, zsh or fish')
    .action((shell: string) => { process.stdout.write(completionScript(shell)); });
}

function optionNames(cmd: Command): string[] {
  return [...cmd.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short].filter(Boolean) as string[]), '--help'];
}

/** What may come after `words` (the arguments typed so far) when the word being typed is `cur`. */
export async function candidates(program: Command, words: string[], cur: string): Promise<string[]> {
  let cmd = program;
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (!sub) break;
    cmd = sub;
    if (cmd.name() === 'run') { i++; break; }
  }
  if (cmd.name() === 'run') return runCandidates(words.slice(i), cur);
  if (cur.startsWith('-')) return optionNames(cmd);
  if (cmd.commands.length > 0) return cmd.commands.filter((c) => c.name() !== 'run' || cmd === program).map((c) => c.name());
  if (cmd.name() === 'completion') return Object.keys(SCRIPTS);
  if (cmd.parent?.name() === 'image' && ['inspect', 'remove', 'tag', 'export', 'push', 'sign', 'verify'].includes(cmd.name())) {
    return (await localGadgetNames()).map((g) => g.name);
  }
  return [];
}

async function runCandidates(words: string[], cur: string): Promise<string[]> {
  const prev = words[words.length - 1];
  const prevFlag = prev ? knownFlag(prev) : undefined;
  if (prevFlag?.value && !prev!.includes('=')) {
    if (prevFlag.long === 'output') return OUTPUT_MODES;
    if (prevFlag.long === 'pull') return ['always', 'missing', 'never'];
    if (prevFlag.long === 'runtimes') return [...RUNTIME_NAMES];
    return [];
  }
  const { image } = findImage(words);
  if (cur.startsWith('-')) {
    const base = ALL_KNOWN.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
    if (!image) return [...base, '--help'];
    return [...new Set([...base.filter((f) => !knownFlag(f)?.absentReason), ...await gadgetFlags(image), '--help'])];
  }
  if (!image) return (await localGadgetNames()).map((g) => g.name);
  return [];
}

/** The flags of a gadget in the local store (never pulls: completion must be quick and quiet). */
async function gadgetFlags(image: string): Promise<string[]> {
  try {
    const ctx = await prepareGadget(image, { log: new Logger('error', () => undefined), operators: defaultDataOperators(), image: { pull: 'never', verifyImage: false } });
    return ctx.params.all().flatMap((p) => [`--${p.key}`, ...(p.alias ? [`-${p.alias}`] : [])]);
  } catch {
    // Not in the store or unreadable: the common flags are still offered.
    return [];
  }
}

/** `ig __complete WORDS... CURRENT`: candidates starting with CURRENT, one a line. */
export async function complete(program: Command, args: string[]): Promise<number> {
  const cur = args.length > 0 ? args[args.length - 1]! : '';
  const list = await candidates(program, args.slice(0, -1), cur);
  const out = [...new Set(list)].filter((c) => c.startsWith(cur)).sort();
  if (out.length) process.stdout.write(out.join('\n') + '\n');
  return 0;
}
