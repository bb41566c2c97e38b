// gadget.yaml: case-insensitive keys, field configuration, params and paramDefaults, YAML errors with a line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMetadata, getConfig, MetadataError } from './metadata.js';

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
