import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config, envName } from './config.js';
import { applyConfigToParams } from './params.js';
import { ParamSet } from '../gadget/params.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-export-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('envName: upstream prefix, dots and dashes become underscores', () => {
  assert.equal(envName('operator.otel-metrics.otel-metrics-listen'), 'INSPEKTOR_GADGET_OPERATOR_OTEL_METRICS_OTEL_METRICS_LISTEN');
});

test('Config: nested and dotted keys, case-insensitive, lists join with commas, env wins over file', () => {
  const p = file('a.yaml', 'operator:\n  CLI:\n    output: json\n  oci:\n    allowed-gadgets: [a, b]\noperator.sort.sort: "-x"\n');
  const c = Config.load(p, {});
  assert.deepEqual(c.get('operator.cli.output'), { value: 'json', source: 'file' });
  assert.deepEqual(c.get('operator.oci.allowed-gadgets'), { value: 'a,b', source: 'file' });
  assert.deepEqual(c.get('operator.sort.sort'), { value: '-x', source: 'file' });
  assert.equal(c.get('operator.cli.fields'), undefined);
  const e = Config.load(p, { INSPEKTOR_GADGET_OPERATOR_CLI_OUTPUT: 'yaml' });
  assert.deepEqual(e.get('operator.cli.output'), { value: 'yaml', source: 'env' });
  assert.deepEqual(e.effective(['operator.cli.output']).operator, { cli: { output: 'yaml' }, oci: { 'allowed-gadgets': ['a', 'b'] }, sort: { sort: '-x' } });
});

test('Config: a missing default file is fine, a missing --config file and malformed YAML are one-line errors', () => {
  assert.deepEqual(Config.load(undefined, {}).tree instanceof Object, true);
  assert.throws(() => Config.load(join(dir, 'nope.yaml'), {}), /config file .*nope.yaml: no such file/);
  const bad = file('bad.yaml', 'operator:\n  cli:\n    output: [json\n');
  assert.throws(() => Config.load(bad, {}), (err: Error) => /config file .*bad.yaml:\d+: invalid YAML/.test(err.message) && !err.message.includes('\n'));
  const scalar = file('scalar.yaml', '42\n');
  assert.throws(() => Config.load(scalar, {}), /expected a map of keys/);
});

test('applyConfigToParams: flag > env > file > default; a bad value names its origin', () => {
  const mk = () => {
    const ps = new ParamSet();
    ps.add({ key: 'output', prefix: 'operator.cli.', defaultValue: 'columns' });
    ps.add({ key: 'max-entries', prefix: 'operator.limiter.', defaultValue: '-1', typeHint: 'int' });
    ps.add({ key: 'host', prefix: 'operator.localmanager.', defaultValue: 'false', typeHint: 'bool' });
    return ps;
  };
  const p = file('b.yaml', 'operator:\n  cli:\n    output: json\n  limiter:\n    max-entries: 5\n  localmanager:\n    host: true\n');
  const ps = mk();
  ps.set('operator.cli.output', 'yaml'); // the flag
  applyConfigToParams(Config.load(p, { INSPEKTOR_GADGET_OPERATOR_LIMITER_MAX_ENTRIES: '7' }), ps, new Set(['operator.cli.output']));
  assert.equal(ps.get('operator.cli.output'), 'yaml');        // flag
  assert.equal(ps.get('operator.limiter.max-entries'), '7');  // env over file
  assert.equal(ps.get('operator.localmanager.host'), 'true'); // file over default
  const none = mk();
  applyConfigToParams(Config.empty({}), none, new Set());
  assert.equal(none.get('operator.limiter.max-entries'), '-1'); // default
  assert.throws(() => applyConfigToParams(Config.empty({ INSPEKTOR_GADGET_OPERATOR_LIMITER_MAX_ENTRIES: 'many' }), mk(), new Set()),
    /environment variable INSPEKTOR_GADGET_OPERATOR_LIMITER_MAX_ENTRIES: invalid value "many" for --max-entries/);
  const badFile = file('c.yaml', 'operator.localmanager.host: perhaps\n');
  assert.throws(() => applyConfigToParams(Config.load(badFile, {}), mk(), new Set()), /config file .*c.yaml: operator.localmanager.host: invalid value "perhaps"/);
});
