import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optionParams, resolveParam, fullKey, fieldList } from './options.js';

const PARAMS = [
  { key: 'host', prefix: 'operator.LocalManager.' },
  { key: 'containername', alias: 'c', prefix: 'operator.LocalManager.' },
  { key: 'filter', alias: 'F', prefix: 'operator.filter.' },
  { key: 'filter-expr', alias: 'E', prefix: 'operator.filter.' },
  { key: 'failed', prefix: '' },
  { key: 'selector', alias: 'l', alternativeKey: 'k8s-selector', prefix: 'operator.KubeManager.' },
];

test('named options are the flags they stand for; params by flag, short flag or full key', () => {
  const pairs = optionParams({ host: true, filter: 'proc.comm==cat', filterExpr: 'proc.pid > 1', containers: ['a', 'b'], selector: 'app=x', params: { failed: true, c: 'web', 'operator.filter.filter': 'x==1' } });
  assert.deepEqual(pairs, [['host', 'true'], ['filter', 'proc.comm==cat'], ['filter-expr', 'proc.pid > 1'], ['containername', 'a,b'], ['k8s-selector', 'app=x'], ['failed', 'true'], ['c', 'web'], ['operator.filter.filter', 'x==1']]);
  const keys = pairs.map(([n]) => fullKey(resolveParam(PARAMS, n, 'g')));
  assert.deepEqual(keys, ['operator.LocalManager.host', 'operator.filter.filter', 'operator.filter.filter-expr', 'operator.LocalManager.containername', 'operator.KubeManager.selector', 'failed', 'operator.LocalManager.containername', 'operator.filter.filter']);
});

test('an unknown param is one line naming it, with the nearest', () => {
  assert.throws(() => resolveParam(PARAMS, 'faild', 'trace_open'), /^Error: runGadget\("trace_open"\): no param "faild" \(did you mean failed\?\)/);
});

test('fields as a list or comma text', () => {
  assert.deepEqual(fieldList('proc.comm, fname,'), ['proc.comm', 'fname']);
  assert.deepEqual(fieldList(['a']), ['a']);
  assert.equal(fieldList(undefined), undefined);
});
