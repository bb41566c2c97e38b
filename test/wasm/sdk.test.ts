// The three guest SDKs' examples, built by ig image build from source (C with clang-16/wasi-libc,
// AssemblyScript with asc, Rust with Debian's rustc 1.63) into trace_open images, run against real events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess, repoRoot, runIgSync } from '../harness/ig.js';
import { buildWithWasm, type WasmImage } from './images.js';

interface Ev { proc: { pid: number; comm: string }; fname: string; pid_comm: string; fname_len: number }

async function checkPidComm(img: WasmImage, comm: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `ig-wasm-sdk-${comm}-`));
  const sh = join(dir, comm);
  copyFileSync('/bin/bash', sh);
  const ig = new IgProcess(['run', img.image, '--host', '-o', 'json', '--comm', comm], img.env);
  try {
    const want = join(dir, 'probe-file');
    const e = await ig.waitFor<Ev>((x) => x.fname === want, () => { spawnSync(sh, ['-c', `: < ${want}`], { stdio: 'ignore' }); }, { timeoutMs: 30000 });
    assert.equal(e.pid_comm, `${comm}:${e.proc.pid}`);
    assert.equal(e.fname_len, Buffer.byteLength(want));
  } finally {
    const r = await ig.stop();
    rmSync(dir, { recursive: true, force: true });
    img.cleanup();
    assert.equal(r.code, 0, r.stderr);
  }
}

const SDK = join(repoRoot(), 'sdk');

test('C SDK: the example built from pidcomm.c adds fields to trace_open events', async () => {
  const img = buildWithWasm('trace_open', { 'pidcomm.c': readFileSync(join(SDK, 'c', 'examples', 'pidcomm.c')) }, 'pidcomm.c', 'trace_open_sdk_c');
  await checkPidComm(img, 'igsdk_c');
});

test('AssemblyScript SDK: the example built from pidcomm.ts adds fields to trace_open events', async () => {
  const img = buildWithWasm('trace_open', { 'pidcomm.ts': readFileSync(join(SDK, 'assemblyscript', 'examples', 'pidcomm.ts')) }, 'pidcomm.ts', 'trace_open_sdk_as');
  await checkPidComm(img, 'igsdk_as');
});

test('Rust SDK: the example crate adds fields to trace_open events', async () => {
  const ex = join(SDK, 'rust', 'examples', 'pidcomm');
  const toml = readFileSync(join(ex, 'Cargo.toml'), 'utf8').replace('path = "../.."', `path = "${join(SDK, 'rust')}"`);
  const img = buildWithWasm('trace_open', { 'wasm/Cargo.toml': toml, 'wasm/src/lib.rs': readFileSync(join(ex, 'src', 'lib.rs')) }, 'wasm', 'trace_open_sdk_rust');
  await checkPidComm(img, 'igsdk_rs');
});

test('build.yaml wasm: a .go source and a broken .c source fail in one line', () => {
  for (const [file, src, re] of [
    ['program.go', 'package main\n', /program.go: building Go WASM modules needs Go 1.24 or later/],
    ['bad.c', 'int x = ;\n', /compiling bad.c for wasm32-wasi failed: .*error/],
    ['bad.wasm', 'not wasm', /bad.wasm: is an invalid WebAssembly module/],
  ] as const) {
    assert.throws(() => buildWithWasm('trace_open', { [file]: src }, file, 'trace_open_sdk_bad'), (e: Error) => {
      // Progress lines come first on stderr; the error is the last line, whole.
      const lines = e.message.trim().split('\n');
      const errors = lines.filter((l) => /^Error: /.test(l));
      assert.equal(errors.length, 1, e.message);
      assert.equal(errors[0], lines[lines.length - 1]);
      assert.match(errors[0]!, re);
      return true;
    });
  }
});

test('ig image inspect shows the WASM layer with upstream\'s media type', () => {
  const img = buildWithWasm('trace_open', { 'pidcomm.c': readFileSync(join(SDK, 'c', 'examples', 'pidcomm.c')) }, 'pidcomm.c', 'trace_open_sdk_inspect');
  try {
    const r = runIgSync(['image', 'inspect', img.image], { env: img.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /application\/vnd\.gadget\.wasm\.program\.v1\+binary/);
  } finally {
    img.cleanup();
  }
});
