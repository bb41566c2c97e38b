// Params from the configuration: a param the command line did not set takes its env or file value (flag > env >
// file > default). A bad value names where it came from.
import type { ParamSet } from '../gadget/params.js';
import { Config, ConfigError, envName } from './config.js';

function origin(cfg: Config, key: string, source: 'env' | 'file'): string {
  return source === 'env' ? `environment variable ${envName(key)}` : `config file ${cfg.path}: ${key}`;
}

/** The env or file value of one fully qualified key, or undefined. */
export function configValue(cfg: Config, key: string): { value: string; origin: string } | undefined {
  const v = cfg.get(key);
  return v && { value: v.value, origin: origin(cfg, key, v.source) };
}

/** Set every param of the run that is not in `fromCli` from the configuration. */
export function applyConfigToParams(cfg: Config, params: ParamSet, fromCli: Set<string>): void {
  for (const p of params.all()) {
    const fq = (p.prefix ?? '') + p.key;
    if (fromCli.has(fq)) continue;
    const v = configValue(cfg, fq);
    if (!v) continue;
    try {
      params.set(fq, v.value);
    } catch (e) {
      throw new ConfigError(`${v.origin}: ${(e as Error).message}`);
    }
  }
}
