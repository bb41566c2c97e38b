// `ig image build` refuses bad inputs clearly and cleans up when interrupted: build.yaml paths stay inside the
// gadget folder, a program needs a license, gadget.yaml types are checked, SIGINT/SIGTERM remove the temporary
// folder and stop clang, SIGKILL leaves no clang running, and rebuilding a tag leaves no blob that only the replaced image used.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildImage, OciError } from '../../src/oci/index.js';
import { CLI, cleanupTmp, ensureVmlinux, gadgetCopy, oneErrorLine, runCli, tmpDir } from './helpers.js';

after(() => cleanupTmp());

test('build.yaml paths outside the gadget folder are refused, also through a symlink', async () => {
  ensureVmlinux();
  const g = gadgetCopy();
  const outside = path.join(path.dirname(g), 'outside.yaml');
  writeFileSync(outside, 'name: stolen\n');
  for (const [yaml, re] of [
    ['metadata: ../outside.yaml\n', /build\.yaml: metadata "\.\.\/outside\.yaml" is outside the gadget folder/],
    [`metadata: ${outside}\n`, /build\.yaml: metadata ".*outside\.yaml" is outside the gadget folder/],
    ['ebpfsource: ../../../../etc/passwd\n', /build\.yaml: ebpfsource ".*" is outside the gadget folder/],
    ['metadata: link.yaml\n', /build\.yaml: metadata "link\.yaml" is outside the gadget folder/],
  ] as const) {
    if (yaml.includes('link.yaml') && !existsSync(path.join(g, 'link.yaml'))) symlinkSync(outside, path.join(g, 'link.yaml'));
    writeFileSync(path.join(g, 'build.yaml'), yaml);
    const r = await runCli(['image', 'build', g, '--store', path.join(tmpDir(), 'store')]);
    assert.equal(r.code, 1, yaml);
    assert.match(oneErrorLine(r), re, yaml);
  }
});

test('a program without a license fails at build time, naming the license', async () => {
  ensureVmlinux();
  const g = gadgetCopy();
  const src = path.join(g, 'program.bpf.c');
  writeFileSync(src, readFileSync(src, 'utf8').replace(/^char LICENSE\[\].*$/m, ''));
  await assert.rejects(buildImage(g, { store: tmpDir() }), (e: Error) => e instanceof OciError && /program\.bpf\.c: the program declares no license: add {2}char LICENSE\[\] SEC\("license"\) = "GPL";/.test(e.message));
});

test('gadget.yaml type errors fail the build naming the key', async () => {
  const g = gadgetCopy();
  writeFileSync(path.join(g, 'gadget.yaml'), 'name: 5\n');
  const r = await runCli(['image', 'build', g, '--store', path.join(tmpDir(), 'store')]);
  assert.equal(r.code, 1);
  assert.match(oneErrorLine(r), /gadget\.yaml: "name" must be a string, not a number \(5\)/);
});

/** Every blob in the store is reachable from an index.json entry. */
function orphans(store: string): string[] {
  const reach = new Set<string>();
  const walk = (d: string) => {
    if (reach.has(d)) return;
    reach.add(d);
    const f = path.join(store, 'blobs', 'sha256', d.slice(7));
    if (!existsSync(f)) return;
    let j: { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
    try {
      j = JSON.parse(readFileSync(f, 'utf8'));
    } catch {
      return; // a layer, not JSON
    }
    if (typeof j !== 'object' || !j) return;
    for (const c of [...(j.manifests ?? []), ...(j.config ? [j.config] : []), ...(j.layers ?? [])]) walk(c.digest);
  };
  for (const m of JSON.parse(readFileSync(path.join(store, 'index.json'), 'utf8')).manifests) walk(m.digest);
  return readdirSync(path.join(store, 'blobs', 'sha256')).filter((h) => !reach.has(`sha256:${h}`));
}

test('rebuilding a tag removes the blobs only the replaced image used', async (t) => {
  ensureVmlinux();
  const store = tmpDir();
  const g = gadgetCopy();
  const epoch = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = '1700000000'; // same content, same digest: keeper:1 really shares the blobs
  t.after(() => {
    if (epoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = epoch;
  });
  const first = await buildImage(g, { tag: 'rebuilt:1', store });
  await buildImage(g, { tag: 'keeper:1', store }); // same content: shares every blob with rebuilt:1
  writeFileSync(path.join(g, 'gadget.yaml'), readFileSync(path.join(g, 'gadget.yaml'), 'utf8').replace('a tiny gadget', 'a changed gadget'));
  await buildImage(g, { tag: 'rebuilt:1', store });
  assert.deepEqual(orphans(store), []);
  assert.ok(existsSync(path.join(store, 'blobs', 'sha256', first.digest.slice(7))), 'keeper:1 still needs the first index');
  writeFileSync(path.join(g, 'gadget.yaml'), readFileSync(path.join(g, 'gadget.yaml'), 'utf8').replace('a changed gadget', 'changed again'));
  const second = (await buildImage(g, { tag: 'rebuilt:1', store })).digest;
  await buildImage(g, { tag: 'keeper:1', store });
  assert.deepEqual(orphans(store), []);
  assert.equal(existsSync(path.join(store, 'blobs', 'sha256', first.digest.slice(7))), false, 'the replaced index stayed');
  assert.ok(existsSync(path.join(store, 'blobs', 'sha256', second.slice(7))));
});

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** Running (not gone, not a zombie waiting for its new parent to reap it). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // gone
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return ''; // already gone
  }
}

test('SIGINT/SIGTERM during a build remove its temporary folder and stop clang', async () => {
  ensureVmlinux();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const tmp = tmpDir('ig-build-int-hostile-');
    const store = path.join(tmpDir(), 'store');
    let clang = 0;
    for (let attempt = 0; attempt < 5 && !clang; attempt++) {
      const child = spawn(process.execPath, [CLI, 'image', 'build', gadgetCopy(), '--store', store], { stdio: 'ignore', env: { ...process.env, TMPDIR: tmp } });
      let done = false;
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve((done = true) && undefined)));
      while (!done && !clang) {
        clang = childPids(child.pid!).find((p) => comm(p).startsWith('clang')) ?? 0;
        if (!clang) await new Promise((r) => setTimeout(r, 5));
      }
      if (clang) child.kill(sig);
      await exited;
    }
    assert.ok(clang, 'never saw clang running');
    mkdirSync(tmp, { recursive: true });
    assert.deepEqual(readdirSync(tmp), [], `${sig}: the build folder was left behind`);
    for (let i = 0; i < 50 && running(clang); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(running(clang), false, `${sig}: clang ${clang} (${comm(clang)}) still runs`);
  }
});

test('SIGKILL during a build leaves no compiler running (no handler runs: the kernel kills it with ig)', async () => {
  ensureVmlinux();
  // a clang that takes long: first on PATH, it records its pid (sh execs sleep, same pid) and sleeps
  const bin = tmpDir('ig-build-kill-bin-');
  const pidFile = path.join(bin, 'clang.pid');
  writeFileSync(path.join(bin, 'clang-16'), `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 60\n`, { mode: 0o755 });
  const child = spawn(process.execPath, [CLI, 'image', 'build', gadgetCopy(), '--store', path.join(tmpDir(), 'store')], {
    stdio: 'ignore', env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let clang = 0;
  for (let i = 0; i < 600 && !clang; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (existsSync(pidFile)) clang = Number(readFileSync(pidFile, 'utf8')) || 0;
  }
  try {
    assert.ok(clang && running(clang), 'the build never started its clang');
    child.kill('SIGKILL');
    await exited;
    for (let i = 0; i < 100 && running(clang); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(running(clang), false, `clang ${clang} still runs after its ig was killed`);
  } finally {
    child.kill('SIGKILL');
    if (clang && running(clang)) process.kill(clang, 'SIGKILL');
  }
});
