// The configuration file, INSPEKTOR_GADGET_* variables and flags through the real ig command, and --annotate
// reaching the operators. HOME is a temp dir so the developer's own ~/.ig/config.yaml never takes part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { IgProcess, runIgSync } from '../harness/ig.js';

const home = mkdtempSync(join(tmpdir(), 'ig-export-home-'));
const env = { HOME: home };
// Own comm: only this test's opens are traced.
const sh = join(home, 'igexpcfg_sh');
copyFileSync('/bin/bash', sh);
test.after(() => rmSync(home, { recursive: true, force: true }));

function poke(): void { spawnSync(sh, ['-c', `: < ${home}/probe`], { stdio: 'ignore' }); }

/** Run trace_open on our comm until an open of the probe file is printed; returns stdout. */
async function traceOnce(args: string[], extraEnv: NodeJS.ProcessEnv = {}, until = 'probe'): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const ig = new IgProcess(['run', 'trace_open', '--host', '--comm', 'igexpcfg_sh', ...args], { ...env, ...extraEnv });
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline && !ig.stdout.includes(until) && ig.child.exitCode === null) {
    poke();
    await new Promise((r) => setTimeout(r, 200));
  }
  const r = await ig.stop();
  return { stdout: r.stdout, stderr: r.stderr, code: r.code };
}

test('operator.cli.output from ~/.ig/config.yaml, the env var over it, the flag over both', async () => {
  mkdirSync(join(home, '.ig'), { recursive: true });
  writeFileSync(join(home, '.ig', 'config.yaml'), 'operator:\n  cli:\n    output: json\n');
  const file = await traceOnce([]);
  assert.equal(file.code, 0, file.stderr);
  assert.match(file.stdout, /^\{.*"fname":"[^"]*probe"/m, 'json from the file');
  const fromEnv = await traceOnce([], { INSPEKTOR_GADGET_OPERATOR_CLI_OUTPUT: 'yaml' });
  assert.match(fromEnv.stdout, /^fname: .*probe$/m, 'yaml from the env');
  const flag = await traceOnce(['-o', 'columns'], { INSPEKTOR_GADGET_OPERATOR_CLI_OUTPUT: 'yaml' });
  assert.match(flag.stdout, /FNAME/, 'columns from the flag');
  rmSync(join(home, '.ig'), { recursive: true, force: true });
});

test('--config PATH chooses the file (before or after run); a missing or malformed one is one line, exit 1', async () => {
  const p = join(home, 'other.yaml');
  writeFileSync(p, 'operator.cli.output: json\n');
  const before = await traceOnce([], {});
  assert.doesNotMatch(before.stdout, /^\{/m, 'no file: columns');
  const ig = new IgProcess(['--config', p, 'run', 'trace_open', '--host', '--comm', 'igexpcfg_sh', '--timeout', '30'], env);
  await ig.waitFor((e: { fname?: string }) => String(e.fname).endsWith('probe'), poke);
  await ig.stop();
  for (const [args, re] of [
    [['--config', join(home, 'missing.yaml'), 'run', 'trace_open'], /^Error: config file .*missing.yaml: no such file\n$/],
    [['run', 'trace_open', `--config=${join(home, 'bad.yaml')}`], /^Error: config file .*bad.yaml:\d+: invalid YAML/],
  ] as const) {
    writeFileSync(join(home, 'bad.yaml'), 'operator: [\n');
    const r = runIgSync([...args], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const badValue = runIgSync(['run', 'trace_open', '-t', '1'], { env: { ...env, INSPEKTOR_GADGET_OPERATOR_LOCALMANAGER_HOST: 'lots' } });
  assert.equal(badValue.code, 1);
  assert.match(badValue.stderr, /^Error: environment variable INSPEKTOR_GADGET_OPERATOR_LOCALMANAGER_HOST: invalid value "lots" for --host/);
});

test('ig config default prints commented YAML of the defaults; ig config view the file with env overrides', () => {
  const d = runIgSync(['config', 'default'], { env });
  assert.equal(d.code, 0, d.stderr);
  const doc = parseYaml(d.stdout) as { operator: Record<string, Record<string, unknown>> };
  assert.equal(doc.operator.oci!['verify-image'], true);
  assert.equal(doc.operator.oci!['pull'], 'missing');
  assert.deepEqual(doc.operator.oci!['annotate'], []);
  assert.match(d.stdout, /# .*\(env INSPEKTOR_GADGET_OPERATOR_OCI_VERIFY_IMAGE\)/);
  // Every operator's per-run params are listed as commented keys; uncommented, the text is a config that sets them.
  const uncommented = parseYaml(d.stdout.replace(/^(\s*)# ([A-Za-z][\w-]*):( |$)/gm, '$1$2:$3')) as { operator: Record<string, Record<string, unknown>> };
  const runParams: [string, string, unknown][] = [
    ['cli', 'output', 'columns'], ['cli', 'fields', ''], ['filter', 'filter', ''], ['sort', 'sort', ''], ['limiter', 'max-entries', -1],
    ['LocalManager', 'containername', ''], ['LocalManager', 'host', false], ['LocalManager', 'runtimes', 'containerd,docker,cri-o,podman'],
    ['otel-metrics', 'otel-metrics-name', ''], ['otel-metrics', 'otel-metrics-exporter', ''], ['otel-metrics', 'otel-metrics-print-interval', 0],
    ['otel-logs', 'otel-logs-exporter', ''],
  ];
  for (const [op, key, value] of runParams) {
    assert.equal(doc.operator[op]?.[key], undefined, `operator.${op}.${key} is commented out`);
    assert.deepEqual(uncommented.operator[op]?.[key], value, `operator.${op}.${key} listed with its default`);
    assert.match(d.stdout, new RegExp(`# .*\\(env ${`INSPEKTOR_GADGET_OPERATOR_${op}_${key}`.toUpperCase().replace(/-/g, '_')}\\)`));
  }
  assert.equal(uncommented.operator.oci!['pull'], 'missing', 'global settings unchanged');
  const p = join(home, 'view.yaml');
  writeFileSync(p, 'operator:\n  oci:\n    pull: never\n');
  const v = runIgSync(['config', 'view', '--config', p], { env: { ...env, INSPEKTOR_GADGET_OPERATOR_OCI_VERIFY_IMAGE: 'false' } });
  assert.equal(v.code, 0, v.stderr);
  assert.deepEqual((parseYaml(v.stdout) as { operator: unknown }).operator, { oci: { pull: 'never', 'verify-image': 'false' } });
  assert.match(v.stdout, new RegExp(`^# from ${p}`));
});

test('--annotate reaches the operators (json.skip, columns.hidden) and bad ones fail in one line', async () => {
  const r = await traceOnce(['-o', 'json', '--annotate', 'open.fname:json.skip=true,open:unused=1'], {}, 'igexpcfg_sh');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{'));
  assert.ok(lines.length > 0, r.stderr);
  for (const l of lines) assert.ok(!('fname' in (JSON.parse(l) as object)), l);
  const cols = await traceOnce(['--annotate', 'open.fname:columns.hidden=true'], {}, 'igexpcfg_sh');
  assert.match(cols.stdout, /COMM/);
  assert.doesNotMatch(cols.stdout, /FNAME/);
  for (const [ann, re] of [
    ['nosuch:metrics.collect=true', /^Error: --annotate "nosuch:metrics.collect=true": the gadget has no data source "nosuch" \(it has: open\)$/],
    ['open.nofield:metrics.type=key', /^Error: --annotate "open.nofield:metrics.type=key": data source "open" has no field "nofield"$/],
    ['open-metrics.collect', /^Error: invalid --annotate "open-metrics.collect": expected datasource:annotation=value/],
  ] as const) {
    const b = runIgSync(['run', 'trace_open', '--host', '-t', '1', '--annotate', ann], { env });
    assert.equal(b.code, 1, b.stdout);
    assert.match(b.stderr.trim(), re);
  }
});
