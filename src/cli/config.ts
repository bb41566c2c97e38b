// `ig config default` prints a commented configuration file with every process-wide setting at its default, and
// every operator's per-run params as commented keys (they apply to every gadget run that has them);
// `ig config view` prints the settings in effect (the file, with INSPEKTOR_GADGET_* overrides of known keys).
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { activeConfig, envName } from '../config/config.js';
import { defaultDataOperators } from '../runtime/operators.js';
import type { ParamDesc } from '../gadget/params.js';
import { GadgetContext } from '../gadget/context.js';
import { Logger } from '../gadget/logger.js';
import { FieldFlag, Kind } from '../datasource/index.js';
import { runCommandSkeleton } from './run.js';

interface Setting { key: string; value: string; description: string; list: boolean; commented?: boolean }

/** Settings with a fully qualified key: the image options (operator.oci.*) and every operator's global params. */
export async function knownSettings(): Promise<Setting[]> {
  const out: Setting[] = [];
  for (const o of runCommandSkeleton().options) {
    if (!o.long || ['--timeout', '--verbose', '--help'].includes(o.long)) continue;
    const list = o.long === '--annotate';
    const dv = o.defaultValue === undefined ? (o.required || o.optional ? '' : 'false') : String(o.defaultValue);
    out.push({ key: `operator.oci.${o.long.slice(2)}`, value: list ? '' : dv, description: o.description, list });
  }
  for (const op of defaultDataOperators()) {
    for (const p of op.globalParams?.() ?? []) out.push(fromParam(p, `operator.${op.name}.`));
  }
  const seen = new Set(out.map((s) => s.key));
  for (const s of await operatorRunSettings()) if (!seen.has(s.key)) { seen.add(s.key); out.push(s); }
  return out;
}

/**
 * The per-run params of every default data operator. Operators offer them only to a run whose data sources need
 * them (filter and the container selectors when a data source has a mount namespace id, sort and the limiter for
 * arrays, the print interval for metrics.print): a stand-in run with such data sources asks every operator.
 * Nothing is started; the gadgets' own params come from their images and are not listed.
 */
export async function operatorRunSettings(): Promise<Setting[]> {
  const ctx = new GadgetContext({ reference: 'ig-config-default', digest: '', ebpf: null, wasm: null, annotations: {} }, { name: 'ig-config-default', annotations: {}, datasources: {}, ebpfParams: {} } as never, new Logger());
  const events = ctx.addDataSource('events', 'single');
  events.staticSize = 16;
  events.addField({ name: 'mntns_id', kind: Kind.Uint64, tags: ['type:gadget_mntns_id'], flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 0, size: 8 } });
  events.addField({ name: 'value', kind: Kind.Uint64, annotations: { 'metrics.type': 'counter' }, flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 8, size: 8 } });
  const stats = ctx.addDataSource('stats', 'array');
  stats.staticSize = 8;
  stats.addField({ name: 'mntns_id', kind: Kind.Uint64, tags: ['type:gadget_mntns_id'], flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 0, size: 8 } });
  const hist = ctx.addDataSource('hist', 'single');
  hist.annotations.set('metrics.print', 'true');
  hist.staticSize = 8;
  hist.addField({ name: 'count', kind: Kind.Uint64, annotations: { 'metrics.type': 'counter' }, flags: FieldFlag.StaticMember, storage: { type: 'static', offs: 0, size: 8 } });
  const out: Setting[] = [];
  for (const op of defaultDataOperators()) {
    const inst = await op.instantiate(ctx);
    for (const p of inst?.params?.() ?? []) out.push({ ...fromParam(p, `operator.${op.name}.`), commented: true });
  }
  return out;
}

function fromParam(p: ParamDesc, prefix: string): Setting {
  return { key: (p.prefix ?? prefix) + p.key, value: p.defaultValue ?? '', description: p.description ?? '', list: p.typeHint === 'strings' };
}

function scalar(s: Setting): string {
  if (s.list) return s.value === '' ? '[]' : stringify(s.value.split(',')).trim().replace(/\n/g, ' ');
  if (s.value === 'true' || s.value === 'false' || /^-?\d+$/.test(s.value)) return s.value;
  return stringify(s.value).trim();
}

/** YAML nested by the keys' dots, each leaf preceded by its description and environment variable. */
export async function defaultConfigText(): Promise<string> {
  const lines: string[] = [
    '# ig configuration (upstream Inspektor Gadget keys). Default location: ~/.ig/config.yaml; choose another with',
    '# --config PATH. Precedence: command-line flag > INSPEKTOR_GADGET_* environment variable > this file > default.',
  ];
  lines.push('# Keys in comments are params of gadget runs (a run uses them when it has that param): uncomment to set.');
  const settings = (await knownSettings()).sort((a, b) => a.key.localeCompare(b.key));
  // A section whose keys are all commented out is commented out too (an empty mapping would read as null).
  const live = new Set<string>();
  for (const s of settings) {
    if (s.commented) continue;
    const parts = s.key.split('.');
    for (let d = 1; d < parts.length; d++) live.add(parts.slice(0, d).join('.'));
  }
  let open: string[] = [];
  for (const s of settings) {
    const parts = s.key.split('.');
    const path = parts.slice(0, -1);
    let common = 0;
    while (common < open.length && common < path.length && open[common] === path[common]) common++;
    for (let d = common; d < path.length; d++) {
      const c = live.has(path.slice(0, d + 1).join('.')) ? '' : '# ';
      lines.push(`${'  '.repeat(d)}${c}${path[d]}:`);
    }
    open = path;
    const ind = '  '.repeat(path.length);
    const c = s.commented ? '# ' : '';
    if (s.description) lines.push(`${ind}# ${s.description.split('\n')[0]} (env ${envName(s.key)})`);
    lines.push(`${ind}${c}${parts[parts.length - 1]}: ${scalar(s)}`);
  }
  lines.push(
    '# Named exporters (select with --otel-metrics-exporter NAME / --otel-logs-exporter NAME), for example:',
    '#   operator:',
    '#     otel-metrics:',
    '#       exporters:',
    '#         collector:',
    '#           exporter: otlp-grpc',
    '#           endpoint: 127.0.0.1:4317',
    '#           insecure: true',
    '#           temporality: cumulative   # or delta',
    '#           interval: 10s',
    '#     otel-logs:',
    '#       exporters:',
    '#         collector:',
    '#           exporter: otlp-grpc',
    '#           endpoint: 127.0.0.1:4317',
    '#           insecure: true',
    '#           compression: none         # or gzip',
  );
  return `${lines.join('\n')}\n`;
}

export function registerConfigCommands(program: Command): void {
  const cmd = program.command('config').description('Configuration commands');
  cmd.command('default').description('Print the default configuration').action(async () => {
    process.stdout.write(await defaultConfigText());
  });
  cmd.command('view').description('Print the configuration in effect').action(async () => {
    const cfg = activeConfig();
    const tree = cfg.effective((await knownSettings()).map((s) => s.key));
    process.stdout.write(`# ${cfg.path ? `from ${cfg.path}` : 'no configuration file'}${Object.keys(tree).length ? '' : ' (all defaults)'}\n`);
    if (Object.keys(tree).length) process.stdout.write(stringify(tree));
  });
}
