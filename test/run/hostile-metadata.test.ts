// `ig run` of a pulled image checks its gadget.yaml (size cap, types) before anything of the gadget is loaded.
// The images come from the FAKE malicious registry of test/oci: a gadget.yaml like these is refused by
// `ig image build`, so no well-behaved tool can produce the image for a real registry.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, getGadgetImage } from '../../src/oci/index.js';
import { MT_EBPF, MT_INDEX, MT_MANIFEST, serveBlob, serveManifest, startFakeRegistry, type FakeRegistry } from '../oci/fake-malicious-registry.js';
import { IgProcess, repoRoot } from '../harness/ig.js';

const tmp = mkdtempSync(join(tmpdir(), 'ig-hostile-md-'));
let fake: FakeRegistry | undefined;
after(async () => {
  await fake?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('ig run refuses a pulled image whose gadget.yaml has wrong types or is too large, before loading it', async () => {
  const store = join(tmp, 'build');
  await buildImage(join(repoRoot(), 'test', 'oci', 'testdata', 'mini'), { tag: 'mini:v1', store });
  const ebpf = (await getGadgetImage('mini:v1', { store })).ebpf!;
  fake = await startFakeRegistry();
  const f = fake;
  const serve = (tag: string, yaml: string) => {
    const layer = serveBlob(f, 'evil/md', ebpf, MT_EBPF);
    const config = serveBlob(f, 'evil/md', Buffer.from(yaml), 'application/vnd.gadget.config.v1+yaml');
    const m = serveManifest(f, 'evil/md', { schemaVersion: 2, mediaType: MT_MANIFEST, config, layers: [layer] }, MT_MANIFEST);
    serveManifest(f, 'evil/md', { schemaVersion: 2, mediaType: MT_INDEX, manifests: [{ ...m, platform: { architecture: 'amd64', os: 'linux' } }] }, MT_INDEX, tag);
  };
  serve('types', 'name: mini\ndatasources: "hello"\n');
  serve('name', 'name: 5\n');
  serve('big', 'name: mini\nannotations:\n' + Array.from({ length: 120000 }, (_, i) => `  key${i}: value${i}\n`).join(''));
  const cases: [string, RegExp][] = [
    ['types', /evil\/md:types: gadget\.yaml: "datasources" must be a map, not a string \("hello"\)/],
    ['name', /gadget\.yaml: "name" must be a string, not a number \(5\)/],
    ['big', /its gadget\.yaml is \d+ bytes, more than the 1 MiB limit/],
  ];
  for (const [tag, re] of cases) {
    // asynchronously: the fake registry answers from this process
    const r = await new IgProcess(['run', `${f.host}/evil/md:${tag}`, '--host', '-t', '1', '--insecure-registries', f.host, '--verify-image=false'], { IG_OCI_STORE: join(tmp, `run-${tag}`) }).wait();
    assert.equal(r.code, 1, `${tag}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re, tag);
  }
});
