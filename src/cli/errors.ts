// Errors for people: one line on stderr, details only with --verbose, a JS stack trace only with IG_DEBUG=1.
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
