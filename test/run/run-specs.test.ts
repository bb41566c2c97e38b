// ig run -f FILE: the instance specs of a manifest run locally, side by side.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, runIgSync } from '../harness/ig.js';
import { poke } from '../harness/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-run-specs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ig run -f runs every spec of the manifest at once', async () => {
  const file = join(dir, 'specs.yaml');
  writeFileSync(file, [
    'apiVersion: 1', 'kind: instance-spec', 'image: trace_open', 'paramValues:', '  operator.LocalManager.host: "true"', '  operator.oci.ebpf.comm: cat',
    '---',
    'apiVersion: 1', 'kind: instance-spec', 'image: trace_exec', 'paramValues:', '  operator.LocalManager.host: "true"', '',
  ].join('\n'));
  const p = new IgProcess(['run', '-f', file, '-o', 'json']);
  try {
    await p.waitFor<{ proc: { comm: string }; fname?: string }>((e) => e.proc?.comm === 'cat' && e.fname === '/etc/hostname', poke, { timeoutMs: 30000 });
    await p.waitFor<{ proc: { comm: string }; args?: string; fname?: string }>((e) => e.proc?.comm === 'cat' && !('fname' in e), poke, { timeoutMs: 30000 });
  } finally {
    const r = await p.stop('SIGINT');
    assert.equal(r.code, 0, r.stderr);
  }
});

test('ig run -f: bad manifests and params are one line', () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: 1\nkind: instance-spec\nimage: trace_open\nparamValues:\n  operator.LocalManager.host: maybe\n');
  const r = runIgSync(['run', '-f', bad, '--timeout', '1']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `Error: ${bad}: trace_open: invalid value "maybe" for --host: expected true or false`);
  const none = runIgSync(['run', '-f', join(dir, 'missing.yaml')]);
  assert.equal(none.stderr.trim(), `Error: cannot read manifest ${join(dir, 'missing.yaml')}: no such file`);
});
