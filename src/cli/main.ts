#!/usr/bin/env node
// ig: the command. `run` parses its own flags (they depend on the image); the rest goes through commander.
import { Command } from 'commander';
import { runCommand } from './run.js';
import { registerVersion } from './version.js';
import { exitCodeOf, isDebug, reportError, runMain, UsageError } from './errors.js';
import { didYouMean } from '../gadget/suggest.js';
import { registerCompletion, complete } from './completion.js';
import { Config, setActiveConfig } from '../config/config.js';
import { traceMemory } from './trace-memory.js';
import { formatResident, residentNow } from './startup-memory.js';

async function loadOptional(program: Command): Promise<void> {
  // Command groups owned by other modules; each registers itself on the root command. Literal import()s, so the
  // bundler (scripts/bundle.mjs) follows them into chunks loaded only by commands other than `run`.
  const mods: [() => Promise<Record<string, unknown>>, string][] = [
    [() => import('./image.js'), 'registerImageCommands'],
    [() => import('./login.js'), 'registerLoginCommands'],
    [() => import('./list-containers.js'), 'registerListContainers'],
    [() => import('./daemon.js'), 'registerDaemon'],
    [() => import('./config.js'), 'registerConfigCommands'],
    [() => import('./types.js'), 'registerTypes'],
  ];
  for (const [load, fn] of mods) (((await load())[fn]) as (p: Command) => void)(program);
}

/** Take `--config PATH` (or `--config=PATH`) out of the arguments, wherever it is: it applies to every command. */
export function takeConfigFlag(args: string[]): { path?: string; rest: string[] } {
  const rest: string[] = [];
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { rest.push(...args.slice(i)); break; }
    if (a === '--config') { path = args[++i] ?? ''; continue; }
    if (a.startsWith('--config=')) { path = a.slice('--config='.length); continue; }
    rest.push(a);
  }
  return { path, rest };
}

/**
 * A command group (`ig`, `ig image`) given no subcommand prints its help, as upstream; a mistyped subcommand
 * is an error with a suggestion.
 */
function helpForGroups(cmd: Command): void {
  for (const sub of cmd.commands) helpForGroups(sub);
  if (cmd.commands.length === 0 || cmd.name() === 'run') return;
  cmd.allowExcessArguments(true).action((...a: unknown[]) => {
    const self = a[a.length - 1] as Command;
    const extra = self.args[0];
    if (extra !== undefined) {
      const names = self.commands.flatMap((c) => [c.name(), ...c.aliases()]);
      const path = commandPath(self);
      throw new UsageError(`unknown command "${extra}" for "${path}"${didYouMean(extra, names)} (see ${path} --help)`);
    }
    self.help();
  });
}

function commandPath(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x; x = x.parent) names.unshift(x.name());
  return names.join(' ');
}

export async function buildProgram(): Promise<Command> {
  const program = new Command('ig')
    .description('Collect and observe what the kernel does for your containers, with eBPF gadgets')
    .option('-v, --verbose', 'Print debug information')
    .option('--config <path>', 'Configuration file (default ~/.ig/config.yaml)')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  program.command('run').description('Run a gadget image (ig run --help lists the flags, ig run IMAGE --help its fields)').allowUnknownOption(true).helpOption(false);
  program.command('replay').description('Replay a recording (ig run IMAGE --record FILE) through any output, filter or sort; --info summarises it').allowUnknownOption(true).helpOption(false);
  registerVersion(program);
  await loadOptional(program);
  registerCompletion(program);
  helpForGroups(program);
  program.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: () => undefined }));
  return program;
}

/**
 * IG_TRACE_STARTUP=1: at exit, print the start-up marks (ms since the process started) on stderr, and the CPU time
 * (user + system ms) the process had used when main started: what loading node and ig's modules cost; then the CPU
 * time at main and at each later mark (`startup-cpu:`).
 */
function traceStartup(): void {
  if (!process.env.IG_TRACE_STARTUP) return;
  const cpuNow = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
  const cpuAtMain = cpuNow();
  // Each later mark also notes the process's CPU time (a second line): on a busy machine the wall clock between
  // two marks is mostly waiting for a core, the CPU time is what the step costs.
  const cpuAt: string[] = [];
  const memAt: string[] = [formatResident('main', residentNow())];
  const mark = performance.mark.bind(performance);
  performance.mark = ((name: string, o?: PerformanceMarkOptions) => {
    if (name.startsWith('ig:')) {
      cpuAt.push(`${name.slice(3)} ${cpuNow().toFixed(1)}`);
      memAt.push(formatResident(name.slice(3), residentNow()));
    }
    return mark(name, o);
  }) as typeof performance.mark;
  process.on('exit', () => {
    const marks = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('ig:'));
    process.stderr.write(`startup: ${marks.map((m) => `${m.name.slice(3)} ${m.startTime.toFixed(1)}`).join(', ')}, cpu-main ${cpuAtMain.toFixed(1)}\n`);
    process.stderr.write(`startup-cpu: main ${cpuAtMain.toFixed(1)}${cpuAt.map((m) => `, ${m}`).join('')}\n`);
    // rss/anon/file/hwm kB at each mark (src/cli/startup-memory.ts)
    process.stderr.write(`startup-memory: ${memAt.join(', ')}\n`);
  });
}

export async function main(argv: string[]): Promise<number> {
  performance.mark('ig:main');
  traceStartup();
  traceMemory();
  const cfgFlag = takeConfigFlag(argv.slice(2));
  let args = cfgFlag.rest;
  // `ig help run ...` is `ig run ... --help`.
  if (args[0] === 'help' && args[1] === 'run') args = ['run', ...args.slice(2), '--help'];
  argv = [...argv.slice(0, 2), ...args];
  try {
    setActiveConfig(Config.load(cfgFlag.path));
    performance.mark('ig:config');
  } catch (e) {
    reportError(e, false);
    return 1;
  }
  const runAt = args.indexOf('run');
  if (runAt >= 0 && args.slice(0, runAt).every((a) => a.startsWith('-'))) {
    return runCommand([...args.slice(0, runAt), ...args.slice(runAt + 1)]);
  }
  const replayAt = args.indexOf('replay');
  if (replayAt >= 0 && args.slice(0, replayAt).every((a) => a.startsWith('-'))) {
    const { replayCommand } = await import('./replay.js');
    return replayCommand([...args.slice(0, replayAt), ...args.slice(replayAt + 1)]);
  }
  if (args[0] === '__complete') return complete(await buildProgram(), args.slice(1));
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return exitCodeOf(e, args.includes('-v') || args.includes('--verbose') || isDebug());
  }
}

runMain(() => main(process.argv));
