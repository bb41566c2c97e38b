// Errors raised by the OCI layer. Every message is one line meant for people: it names the image or file
// concerned and, where it helps, what to do next. Callers print `Error: <message>` and exit 1.

export class OciError extends Error {
  /** lines printed after the one-line message, for output people need whole (every clang error of a build) */
  readonly detail?: string;
  constructor(message: string, options?: { cause?: unknown; detail?: string }) {
    super(oneLine(message), options);
    this.name = 'OciError';
    if (options?.detail) this.detail = options.detail;
  }
}

/** Collapse whitespace/newlines so an error always prints as a single line. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ').trim();
}

/** Text of any thrown value, on one line, without a stack trace. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return oneLine(err.message || String(err));
  return oneLine(String(err));
}

/**
 * Print `Error: <message>` to stderr and set the exit code to 1. Handy for CLI actions:
 * `program.action(cliAction(async (...) => {...}))`.
 */
export function reportError(err: unknown, stream: NodeJS.WritableStream = process.stderr): void {
  stream.write(`Error: ${errorMessage(err)}\n`);
  if (err instanceof OciError && err.detail) stream.write(err.detail.replace(/\n*$/, '\n'));
  process.exitCode = 1;
}

/** Wrap a commander action so failures end in one `Error:` line and exit code 1, never a stack trace. */
export function cliAction<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      reportError(err);
    }
  };
}
