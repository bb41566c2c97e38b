// Reference normalisation (ig-spec §1.5) and --allowed-gadgets matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeReference, displayRepository } from './reference.js';
import { OciError } from './errors.js';
import { isGadgetAllowed } from './image-load.js';

test('normalizeReference: the ig-spec table', () => {
  const table: [string, string][] = [
    ['trace_open', 'ghcr.io/inspektor-gadget/gadget/trace_open:latest'],
    ['trace_open:v0.48.0', 'ghcr.io/inspektor-gadget/gadget/trace_open:v0.48.0'],
    ['myorg/mygadget', 'ghcr.io/myorg/mygadget:latest'],
    ['localhost:5000/g', 'localhost:5000/g:latest'],
    ['docker.io/x/y', 'docker.io/x/y:latest'],
  ];
  for (const [input, want] of table) assert.equal(normalizeReference(input), want, input);
});

test('normalizeReference: more cases', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  const table: [string, string][] = [
    ['ghcr.io/x', 'ghcr.io/inspektor-gadget/gadget/x:latest'],
    ['ghcr.io/inspektor-gadget/gadget/trace_exec:main', 'ghcr.io/inspektor-gadget/gadget/trace_exec:main'],
    ['localhost/g:1', 'localhost/g:1'],
    ['127.0.0.1:5000/a/b/c:v1', '127.0.0.1:5000/a/b/c:v1'],
    [`trace_open@${d}`, `ghcr.io/inspektor-gadget/gadget/trace_open@${d}`],
    [`trace_open:v1@${d}`, `ghcr.io/inspektor-gadget/gadget/trace_open:v1@${d}`],
    ['docker.io/ubuntu', 'docker.io/library/ubuntu:latest'],
    ['index.docker.io/x/y:1', 'docker.io/x/y:1'],
    ['Registry/foo', 'Registry/foo:latest'], // an uppercase first component is a domain
    ['my.registry.io/team/gadget:1.2', 'my.registry.io/team/gadget:1.2'],
  ];
  for (const [input, want] of table) assert.equal(normalizeReference(input), want, input);
});

test('normalizeReference: invalid references are one-line OciErrors', () => {
  for (const bad of ['', 'UPPER', 'a/B', 'x:', 'x@sha256:1', 'a//b', 'x:bad tag']) {
    assert.throws(() => normalizeReference(bad), (e: unknown) => e instanceof OciError && !e.message.includes('\n') && /invalid image reference/.test(e.message), bad);
  }
});

test('displayRepository strips the official prefix', () => {
  assert.equal(displayRepository('ghcr.io/inspektor-gadget/gadget/trace_open'), 'trace_open');
  assert.equal(displayRepository('ghcr.io/myorg/g'), 'ghcr.io/myorg/g');
});

test('isGadgetAllowed: exact names, digests, trailing * prefixes', () => {
  const name = 'ghcr.io/inspektor-gadget/gadget/trace_open:v1';
  const repo = 'ghcr.io/inspektor-gadget/gadget/trace_open';
  const digest = 'sha256:' + 'b'.repeat(64);
  assert.equal(isGadgetAllowed(name, repo, digest, undefined), true);
  assert.equal(isGadgetAllowed(name, repo, digest, []), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['trace_open:v1']), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['trace_open']), false); // means :latest
  assert.equal(isGadgetAllowed(name, repo, digest, [`trace_open@${digest}`]), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['ghcr.io/inspektor-gadget/gadget/*']), true);
  assert.equal(isGadgetAllowed(name, repo, digest, ['ghcr.io/other/*', 'trace_exec:v1']), false);
  assert.equal(isGadgetAllowed(name, repo, digest, ['ghcr.io/inspektor-gadget/gadget/trace_open:*']), true);
});
