// A C WASM module is the same whoever starts the build: clang runs a wasm-opt it finds on PATH, and `npm test` puts
// binaryen's there (node_modules/.bin), which made the official images differ between setup under npm and a rebuild.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { buildWasm, pathWithoutWasmOpt } from '../../src/oci/build-wasm.js';
import { repoRoot } from '../harness/ig.js';

test('pathWithoutWasmOpt drops exactly the directories holding an executable wasm-opt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-wasmopt-path-'));
  try {
    const withOpt = join(dir, 'bin1');
    const notExecutable = join(dir, 'bin2');
    mkdirSync(withOpt);
    mkdirSync(notExecutable);
    writeFileSync(join(withOpt, 'wasm-opt'), '#!/bin/sh\n');
    chmodSync(join(withOpt, 'wasm-opt'), 0o755);
    writeFileSync(join(notExecutable, 'wasm-opt'), '');
    chmodSync(join(notExecutable, 'wasm-opt'), 0o644);
    assert.equal(pathWithoutWasmOpt([withOpt, '/usr/bin', notExecutable].join(delimiter)), ['/usr/bin', notExecutable].join(delimiter));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a wasm-opt first on PATH does not change the module clang builds, nor is it run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-wasmopt-build-'));
  const savedPath = process.env.PATH;
  try {
    const gadget = join(dir, 'gadget');
    mkdirSync(gadget);
    writeFileSync(join(gadget, 'pidcomm.c'), readFileSync(join(repoRoot(), 'sdk', 'c', 'examples', 'pidcomm.c')));
    const build = async (name: string) => {
      const out = join(dir, name);
      mkdirSync(out);
      return buildWasm('pidcomm.c', gadget, out, () => {});
    };
    const plain = await build('plain');
    // a wasm-opt that leaves a mark and writes a module of its own: clang would take its output
    const fake = join(dir, 'fake-bin');
    mkdirSync(fake);
    const mark = join(dir, 'wasm-opt-ran');
    writeFileSync(join(fake, 'wasm-opt'), `#!/bin/sh\ntouch ${mark}\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && printf '\\0asm\\1\\0\\0\\0' > "$2"; shift; done\n`);
    chmodSync(join(fake, 'wasm-opt'), 0o755);
    process.env.PATH = `${fake}${delimiter}${savedPath ?? ''}`;
    const withFake = await build('with-fake');
    assert.ok(!existsSync(mark), 'clang ran the wasm-opt on PATH');
    assert.ok(plain.equals(withFake), `the module differs: ${plain.length} against ${withFake.length} bytes`);
  } finally {
    process.env.PATH = savedPath;
    rmSync(dir, { recursive: true, force: true });
  }
});
