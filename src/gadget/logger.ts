// Diagnostics go through a logger (stderr), never console, so outputs on stdout stay clean.
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export class Logger {
  private readonly once = new Set<string>();
  constructor(public level: LogLevel = 'warn', private readonly write: (s: string) => void = (s) => process.stderr.write(s)) {}

  enabled(level: LogLevel): boolean { return ORDER[level] <= ORDER[this.level]; }
  private log(level: LogLevel, msg: string): void {
    if (this.enabled(level)) this.write(`${level === 'warn' ? 'WARN' : level.toUpperCase()}: ${msg}\n`);
  }
  error(msg: string): void { this.log('error', msg); }
  warn(msg: string): void { this.log('warn', msg); }
  info(msg: string): void { this.log('info', msg); }
  debug(msg: string): void { this.log('debug', msg); }
  /** Something a person at the terminal should know that is not a problem (printed unless only errors are). */
  notice(msg: string): void { if (this.enabled('warn')) this.write(`INFO: ${msg}\n`); }
  /** Warn only the first time this exact message comes up. */
  warnOnce(msg: string): void {
    if (this.once.has(msg)) return;
    this.once.add(msg);
    this.warn(msg);
  }
}
