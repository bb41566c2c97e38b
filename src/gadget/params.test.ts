// Params: typed values, the flag named in every error, durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamSet, parseDuration, ParamError } from './params.js';

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
