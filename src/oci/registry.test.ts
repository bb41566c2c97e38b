// Registry authentication challenges (WWW-Authenticate) as the registry client parses them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenge } from './registry.js';

test('parseChallenge', () => {
  const c = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
  assert.deepEqual(c, { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } });
  assert.deepEqual(parseChallenge('Basic realm="igtest"'), { scheme: 'basic', params: { realm: 'igtest' } });
});
