// Errors for people: one line on stderr, details only with --verbose, never a stack trace.
export class UsageError extends Error {}

export function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.replace(/^Error:\s*/i, '');
}

export function reportError(e: unknown, verbose: boolean): void {
  process.stderr.write(`Error: ${errorLine(e)}\n`);
  if (verbose) {
    const d = (e as { details?: string }).details;
    if (d) process.stderr.write(`${d}\n`);
    else if (e instanceof Error && e.stack && !(e instanceof UsageError)) process.stderr.write(`${e.stack}\n`);
  }
}
