// compareNames: localeCompare's order for ASCII names, without ICU's collation data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareNames } from './compare.js';

test('compareNames orders operator names as localeCompare does', () => {
  const names = ['cli', 'GenerateNetworkPolicy', 'filter', 'formatters', 'limiter', 'otel-logs', 'otel-metrics', 'sort',
    'KubeIPResolver', 'KubeManager', 'KubeNameResolver', 'cgroup', 'ebpf-stats', 'process', 'LocalManager',
    'ProcessEnricher', 'SocketEnricher', 'UidGidResolver', 'a', 'A', 'ab', 'Ab', 'aB', 'x-1', 'x1', 'x-2', 'wasm2', 'wasm10'];
  for (const a of names) {
    for (const b of names) assert.equal(Math.sign(compareNames(a, b)), Math.sign(a.localeCompare(b)), `${a} vs ${b}`);
  }
});
