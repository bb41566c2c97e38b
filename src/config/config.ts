// ig's configuration, as upstream's viper setup: a YAML file (~/.ig/config.yaml, or --config PATH) whose keys are
// fully qualified param names (operator.<op>.<key>, runtime.<key>) and environment variables INSPEKTOR_GADGET_<KEY>
// (the key upper-cased, '.' and '-' as '_'). A param's value comes from the first of: flag, env, file, default.
// Keys are case-insensitive; a file may nest them (operator: {cli: {output: json}}) or write them dotted.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { yaml } from '../format/yaml-lazy.js';

export const ENV_PREFIX = 'INSPEKTOR_GADGET_';

export class ConfigError extends Error {}

export type ConfigTree = Record<string, unknown>;

export function defaultConfigPath(): string {
  return join(homedir(), '.ig', 'config.yaml');
}

/** The environment variable of a fully qualified key: operator.cli.output → INSPEKTOR_GADGET_OPERATOR_CLI_OUTPUT. */
export function envName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replace(/[.-]/g, '_');
}

function isTree(v: unknown): v is ConfigTree {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Lower-case every key and expand dotted keys into nested maps (viper's view of a file). */
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (!isTree(v)) return v;
  const out: ConfigTree = {};
  for (const [k, x] of Object.entries(v)) {
    const parts = k.toLowerCase().split('.');
    let cur = out;
    for (const p of parts.slice(0, -1)) {
      if (!isTree(cur[p])) cur[p] = {};
      cur = cur[p] as ConfigTree;
    }
    const last = parts[parts.length - 1]!;
    const val = normalise(x);
    cur[last] = isTree(cur[last]) && isTree(val) ? mergeTrees(cur[last] as ConfigTree, val) : val;
  }
  return out;
}

function mergeTrees(a: ConfigTree, b: ConfigTree): ConfigTree {
  const out: ConfigTree = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isTree(out[k]) && isTree(v) ? mergeTrees(out[k] as ConfigTree, v) : v;
  return out;
}

/** A config value as a param string: lists join with ',' (upstream's string-slice params), null is unset. */
export function valueText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map((x) => String(x)).join(',');
  if (isTree(v)) return undefined;
  return String(v);
}

export class Config {
  constructor(
    /** The file's normalised tree (empty when there is no file). */
    readonly tree: ConfigTree,
    /** The file it came from, if one was read. */
    readonly path: string | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  static empty(env: NodeJS.ProcessEnv = process.env): Config { return new Config({}, undefined, env); }

  /**
   * Read the file. Without an explicit path a missing ~/.ig/config.yaml is fine (upstream does not fail either);
   * a path given with --config must exist. A malformed file is an error either way.
   */
  static load(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
    const explicit = path !== undefined && path !== '';
    const p = explicit ? path : defaultConfigPath();
    if (!existsSync(p)) {
      if (explicit) throw new ConfigError(`config file ${p}: no such file`);
      return new Config({}, undefined, env);
    }
    let text: string;
    try { text = readFileSync(p, 'utf8'); } catch (e) {
      throw new ConfigError(`config file ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let doc: unknown;
    try { doc = yaml().parse(text); } catch (e) {
      const line = e instanceof yaml().YAMLParseError ? e.linePos?.[0]?.line : undefined;
      throw new ConfigError(`config file ${p}${line ? `:${line}` : ''}: invalid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (doc === null || doc === undefined) doc = {};
    if (!isTree(doc)) throw new ConfigError(`config file ${p}: expected a map of keys at the top level`);
    return new Config(normalise(doc) as ConfigTree, p, env);
  }

  /** The file's value at a dotted key (a subtree for a prefix such as operator.otel-metrics.exporters). */
  fileValue(key: string): unknown {
    let cur: unknown = this.tree;
    for (const part of key.toLowerCase().split('.')) {
      if (!isTree(cur)) return undefined;
      cur = cur[part];
    }
    return cur;
  }

  envValue(key: string): string | undefined {
    const v = this.env[envName(key)];
    return v === undefined ? undefined : v;
  }

  /** Env, then file: the value for a param the command line did not set. */
  get(key: string): { value: string; source: 'env' | 'file' } | undefined {
    const e = this.envValue(key);
    if (e !== undefined) return { value: e, source: 'env' };
    const f = valueText(this.fileValue(key));
    return f === undefined ? undefined : { value: f, source: 'file' };
  }

  /** The effective settings (`ig config view`): the file with the given keys' env overrides applied. */
  effective(knownKeys: string[]): ConfigTree {
    let out: ConfigTree = JSON.parse(JSON.stringify(this.tree)) as ConfigTree;
    for (const k of knownKeys) {
      const e = this.envValue(k);
      if (e !== undefined) out = mergeTrees(out, normalise({ [k]: e }) as ConfigTree);
    }
    return out;
  }
}

let active: Config = Config.empty();

/** The configuration of this process, set once by the command line (operators read exporters from it). */
export function activeConfig(): Config { return active; }
export function setActiveConfig(c: Config): void { active = c; }
