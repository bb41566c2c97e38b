// Flags that take a value and apply before any subcommand parses its own (connection, cluster and config flags
// of gadgetctl and kubectl-gadget): taken out of the arguments wherever they are, up to `--`.
import { UsageError } from './errors.js';

/**
 * Take the `--flag value` / `--flag=value` flags named in `names` (flag → key) out of `args`; `each` receives every
 * one in order. A flag without a value is a usage error; so is an empty one unless `allowEmpty`.
 */
export function takeValueFlags<K extends string>(
  args: string[],
  names: Readonly<Record<string, K>>,
  each: (key: K, value: string, flag: string) => void,
  opts: { allowEmpty?: boolean } = {},
): string[] {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { rest.push(...args.slice(i)); break; }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const key = Object.hasOwn(names, flag) ? names[flag] : undefined;
    if (key === undefined) { rest.push(a); continue; }
    const value = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined || (value === '' && !opts.allowEmpty)) throw new UsageError(`flag ${flag} needs a value`);
    each(key, value, flag);
  }
  return rest;
}

/** --connection-timeout: a positive number of seconds. */
export function connectionTimeoutSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`invalid value "${v}" for --connection-timeout: expected a positive number of seconds`);
  return n;
}
