// The test gadgets of test/ebpf: a program from testdata/ and a gadget.yaml, built with `ig image build` into a
// store of the test file's own (a temp dir), so that no other store sees them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIgSync, repoRoot } from '../harness/ig.js';

export class TestGadgets {
  readonly store = mkdtempSync(join(tmpdir(), 'ig-store-'));
  /** The env of every ig run that uses these gadgets. */
  readonly env = { IG_OCI_STORE: this.store };

  /** Build testdata/`source` as image `tag`; `prefix` goes before the source (e.g. a #define choosing a case). */
  build(tag: string, source: string, yaml: string, prefix = ''): void {
    const dir = mkdtempSync(join(tmpdir(), `ig-${tag}-`));
    writeFileSync(join(dir, 'program.bpf.c'), prefix + readFileSync(join(repoRoot(), 'test', 'ebpf', 'testdata', source), 'utf8'));
    writeFileSync(join(dir, 'gadget.yaml'), yaml);
    const r = runIgSync(['image', 'build', dir, '-t', tag], { env: this.env });
    assert.equal(r.code, 0, `build ${tag}: ${r.stderr}`);
  }
}
