// Where the local image store lives by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultStorePath } from './store.js';

test('defaultStorePath: IG_OCI_STORE, else /var/lib/ig/oci-store for root, else ~/.ig/oci-store', () => {
  const saved = process.env.IG_OCI_STORE;
  try {
    process.env.IG_OCI_STORE = '/tmp/some-store';
    assert.equal(defaultStorePath(), '/tmp/some-store');
    delete process.env.IG_OCI_STORE;
    if (process.geteuid?.() === 0) assert.equal(defaultStorePath(), '/var/lib/ig/oci-store');
    else assert.match(defaultStorePath(), /\/\.ig\/oci-store$/);
  } finally {
    if (saved === undefined) delete process.env.IG_OCI_STORE;
    else process.env.IG_OCI_STORE = saved;
  }
});
