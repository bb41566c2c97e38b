// The pre-parse of value flags shared by gadgetctl and kubectl-gadget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionTimeoutSeconds, takeValueFlags } from './value-flags.js';
import { UsageError } from './errors.js';
import { extractConfigFlag, extractRemoteFlags } from './gadgetctl/connect.js';
import { extractGlobalFlags } from './kubectl-gadget/main.js';

const NAMES = { '--a': 'a', '--b': 'b' } as const;

test('both spellings, anywhere before --, in order; other arguments stay in place', () => {
  const seen: string[] = [];
  const rest = takeValueFlags(['run', '--a', '1', 'x', '--b=2', '--a=', '--', '--a', '3'], NAMES, (k, v) => seen.push(`${k}=${v}`), { allowEmpty: true });
  assert.deepEqual(seen, ['a=1', 'b=2', 'a=']);
  assert.deepEqual(rest, ['run', 'x', '--', '--a', '3']);
});

test('a missing value, or an empty one unless allowed, is a usage error naming the flag', () => {
  assert.throws(() => takeValueFlags(['--a'], NAMES, () => undefined), (e: Error) => e instanceof UsageError && e.message === 'flag --a needs a value');
  assert.throws(() => takeValueFlags(['--b='], NAMES, () => undefined), /flag --b needs a value/);
  assert.deepEqual(takeValueFlags(['--constructor', 'x', '--toString=y'], NAMES, () => assert.fail('not a flag')), ['--constructor', 'x', '--toString=y']);
});

test('--connection-timeout takes a positive number of seconds', () => {
  assert.equal(connectionTimeoutSeconds('2.5'), 2.5);
  for (const bad of ['0', '-1', 'abc', 'Infinity']) assert.throws(() => connectionTimeoutSeconds(bad), /invalid value .* for --connection-timeout/);
});

test('gadgetctl and kubectl-gadget read their flags through it', () => {
  const r = extractRemoteFlags(['list', '--remote-address=unix:///tmp/x.sock', '--connection-timeout', '3', '--tls-server-name=']);
  assert.equal(r.flags.address, 'unix:///tmp/x.sock');
  assert.equal(r.flags.connectTimeoutSec, 3);
  assert.equal(r.flags.tlsServerName, '');
  assert.deepEqual(r.rest, ['list']);
  assert.deepEqual(extractConfigFlag(['--config', 'c.yaml', 'ls']), { path: 'c.yaml', rest: ['ls'] });
  assert.throws(() => extractConfigFlag(['--config']), /flag --config needs a value/);
  const g = extractGlobalFlags(['run', '--node', 'n1,n2', '--context=prod', 'trace_exec']);
  assert.deepEqual(g.flags.node, ['n1', 'n2']);
  assert.equal(g.flags.context, 'prod');
  assert.deepEqual(g.rest, ['run', 'trace_exec']);
  assert.throws(() => extractGlobalFlags(['--context=']), /flag --context needs a value/);
});
