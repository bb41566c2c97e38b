// Errors for people: one line on stderr, details only with --verbose, a JS stack trace only with IG_DEBUG=1.
import { CommanderError } from 'commander';
export class UsageError extends Error {}

/** IG_DEBUG=1: show stack traces (for ig's developers). */
export function isDebug(): boolean {
  return process.env['IG_DEBUG'] === '1' || process.env['IG_DEBUG'] === 'true';
}

export function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.replace(/^Error:\s*/i, '');
}

/** Details worth a reader's time under --verbose: what the error carries (verifier log), not where JS was. */
export function reportError(e: unknown, verbose: boolean): void {
  process.stderr.write(`Error: ${errorLine(e)}\n`);
  if (!verbose && !isDebug()) return;
  const d = (e as { details?: string }).details;
  if (d) process.stderr.write(`${d}\n`);
  const rest = e instanceof Error ? e.message.split('\n').slice(1).join('\n').trim() : '';
  if (!d && rest) process.stderr.write(`${rest}\n`);
  if (isDebug() && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
}

/** Exit code of a failed command line (ig and gadgetctl): commander's help/version exits are not failures. */
export function exitCodeOf(e: unknown, verbose: boolean): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
    process.stderr.write(`Error: ${e.message.replace(/^error:\s*/i, '').replace(/\(Did you mean (.*)\?\)/, '(did you mean $1?)')}\n`);
    return 1;
  }
  reportError(e, verbose);
  return 1;
}

/** Run a command's main and exit with its code. */
export function runMain(main: () => Promise<number>): void {
  main().then((code) => {
    process.exitCode = code;
    // Kernel objects are released by now; do not wait for idle handles (readers, sockets) to unwind. A pipe that
    // is full makes stdout writes asynchronous: let what is queued reach the reader before exiting.
    const exit = () => setImmediate(() => process.exit(code));
    if (process.stdout.writableLength > 0 && !process.stdout.destroyed) process.stdout.write('', exit);
    else exit();
  }, (e) => {
    reportError(e, isDebug());
    process.exit(1);
  });
}
