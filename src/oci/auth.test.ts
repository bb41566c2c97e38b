// Registry credentials in config.json files: lookups, docker.io aliases, REGISTRY_AUTH_FILE and docker's file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getCredentials, saveCredentials, removeCredentials, defaultAuthFile } from './auth.js';

test('credentials: config.json lookups, docker.io as index.docker.io, REGISTRY_AUTH_FILE, docker fallback', async () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'ig-auth-test-'));
  try {
    const f = path.join(d, 'auth.json');
    const enc = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');
    writeFileSync(f, JSON.stringify({ auths: { 'index.docker.io': { auth: enc('hub', 'pw1') }, 'https://r.example:5000': { auth: enc('r', 'pw:2') } } }));
    assert.deepEqual(await getCredentials('docker.io', f), { username: 'hub', password: 'pw1' });
    assert.deepEqual(await getCredentials('r.example:5000', f), { username: 'r', password: 'pw:2' });
    assert.equal(await getCredentials('other.example', f), undefined);
    await saveCredentials('new.example', { username: 'n', password: 'p' }, f);
    assert.deepEqual(await getCredentials('new.example', f), { username: 'n', password: 'p' });
    assert.equal(await removeCredentials('new.example', f), true);
    assert.equal(await getCredentials('new.example', f), undefined);
    const old = { a: process.env.REGISTRY_AUTH_FILE, d: process.env.DOCKER_CONFIG };
    try {
      process.env.REGISTRY_AUTH_FILE = f;
      assert.deepEqual(await getCredentials('docker.io'), { username: 'hub', password: 'pw1' });
      delete process.env.REGISTRY_AUTH_FILE;
      // the default file falls back to docker's config.json when it does not exist
      const dc = path.join(d, 'docker');
      process.env.DOCKER_CONFIG = dc;
      await saveCredentials('fallback.example', { username: 'fb', password: 'x' }, path.join(dc, 'config.json'));
      if (!existsSync(defaultAuthFile())) assert.deepEqual(await getCredentials('fallback.example'), { username: 'fb', password: 'x' });
    } finally {
      if (old.a === undefined) delete process.env.REGISTRY_AUTH_FILE;
      else process.env.REGISTRY_AUTH_FILE = old.a;
      if (old.d === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = old.d;
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
