import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, parseDuration, ParamError } from '../../src/gadget/params.js';
import { parseMetadata, getConfig, MetadataError } from '../../src/gadget/metadata.js';

test('params: type checks name the flag and the problem', () => {
  const ps = new ParamSet();
  ps.add({ key: 'pid', prefix: 'operator.oci.ebpf.', typeHint: 'uint32' });
  ps.add({ key: 'failed', prefix: 'operator.oci.ebpf.', typeHint: 'bool', defaultValue: 'false' });
  ps.add({ key: 'comm', prefix: 'operator.oci.ebpf.', typeHint: 'string', maxLength: 15 });
  ps.set('pid', '42');
  assert.equal(ps.get('operator.oci.ebpf.pid'), '42');
  assert.equal(ps.get('failed'), 'false');
  assert.throws(() => ps.set('pid', '-1'), (e: Error) => e instanceof ParamError && /--pid: out of range for uint32/.test(e.message));
  assert.throws(() => ps.set('pid', 'abc'), /invalid value "abc" for --pid/);
  assert.throws(() => ps.set('failed', 'maybe'), /expected true or false/);
  assert.throws(() => ps.set('comm', 'a-very-long-command-name'), /longer than 15 bytes/);
  assert.throws(() => ps.set('nope', '1'), /unknown param "nope"/);
});

test('durations', () => {
  assert.equal(parseDuration('1000ms'), 1000);
  assert.equal(parseDuration('1m30s'), 90000);
  assert.equal(parseDuration('2'), 2000);
  assert.throws(() => parseDuration('soon'), /invalid duration/);
});

test('gadget.yaml: case-insensitive keys, field config, params, paramDefaults', () => {
  const md = parseMetadata(`name: trace_open
description: opens
dataSources:
  open:
    annotations: {cli.clear-screen-before: "true"}
    fields:
      proc.comm: {annotations: {columns.width: 20}}
params:
  ebpf:
    targ_failed: {key: failed, defaultValue: "false", description: only failed}
paramDefaults:
  operator.oci.ebpf.map-fetch-interval: 2s
programs:
  ig_open: {attach_to: gadget_program_disabled}
`);
  assert.equal(md.name, 'trace_open');
  assert.equal(md.datasources['open']!.fields!['proc.comm']!.annotations!['columns.width'], '20');
  assert.equal(md.ebpfParams['targ_failed']!.key, 'failed');
  assert.equal(md.paramDefaults['operator.oci.ebpf.map-fetch-interval'], '2s');
  assert.equal(getConfig(md, 'programs.ig_open.attach_to'), 'gadget_program_disabled');
  assert.throws(() => parseMetadata('name: [unclosed', 'x/gadget.yaml'), (e: Error) => e instanceof MetadataError && /^x\/gadget.yaml:1: invalid YAML/.test(e.message));
});
