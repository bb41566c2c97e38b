// `ig config default` prints a commented configuration file with every process-wide setting at its default;
// `ig config view` prints the settings in effect (the file, with INSPEKTOR_GADGET_* overrides of known keys).
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { activeConfig, envName } from '../config/config.js';
import { defaultDataOperators } from '../runtime/operators.js';
import type { ParamDesc } from '../gadget/params.js';
import { runCommandSkeleton } from './run.js';

interface Setting { key: string; value: string; description: string; list: boolean }

/** Settings with a fully qualified key: the image options (operator.oci.*) and every operator's global params. */
export function knownSettings(): Setting[] {
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
export function defaultConfigText(): string {
  const lines: string[] = [
    '# ig configuration (upstream Inspektor Gadget keys). Default location: ~/.ig/config.yaml; choose another with',
    '# --config PATH. Precedence: command-line flag > INSPEKTOR_GADGET_* environment variable > this file > default.',
  ];
  const settings = knownSettings().sort((a, b) => a.key.localeCompare(b.key));
  let open: string[] = [];
  for (const s of settings) {
    const parts = s.key.split('.');
    const path = parts.slice(0, -1);
    let common = 0;
    while (common < open.length && common < path.length && open[common] === path[common]) common++;
    for (let d = common; d < path.length; d++) lines.push(`${'  '.repeat(d)}${path[d]}:`);
    open = path;
    const ind = '  '.repeat(path.length);
    if (s.description) lines.push(`${ind}# ${s.description.split('\n')[0]} (env ${envName(s.key)})`);
    lines.push(`${ind}${parts[parts.length - 1]}: ${scalar(s)}`);
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
  cmd.command('default').description('Print the default configuration').action(() => {
    process.stdout.write(defaultConfigText());
  });
  cmd.command('view').description('Print the configuration in effect').action(() => {
    const cfg = activeConfig();
    const tree = cfg.effective(knownSettings().map((s) => s.key));
    process.stdout.write(`# ${cfg.path ? `from ${cfg.path}` : 'no configuration file'}${Object.keys(tree).length ? '' : ' (all defaults)'}\n`);
    if (Object.keys(tree).length) process.stdout.write(stringify(tree));
  });
}
