// `ig run`'s minimized kernel BTF in the store (src/runtime/core-btf-store.ts): bpftool makes the file of an object
// once, later opens of that object load with it (trace_open's real object, loaded and closed here), a failed load
// removes it, and an object bpftool cannot minimize is marked and never tried again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreCoreBtf } from '../../src/runtime/core-btf-store.js';
import { BpfObject, setCoreBtfSource } from '../../src/bpf/object.js';
import { getGadgetImage } from '../../src/oci/index.js';

async function until(what: string, cond: () => boolean, ms = 30000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 100))) {
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
  }
}

test('the store keeps a minimized BTF per object: made once by bpftool, loaded with after, removed when a load fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h16start-btf-'));
  const src = new StoreCoreBtf(dir);
  try {
    const image = await getGadgetImage('trace_open', { pull: 'never' });
    const elf = image.ebpf!;
    assert.equal(src.lookup(elf), undefined, 'nothing yet: vmlinux this time, bpftool starts');
    await until('bpftool to make the file', () => readdirSync(dir).some((f) => f.endsWith('.btf')));
    const path = src.lookup(elf);
    assert.ok(path && existsSync(path), 'the next lookup hands the file out');
    assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.btf')), [], 'no object or temporary file left');
    src.install();
    const obj = BpfObject.open(elf, 'trace_open');
    try {
      assert.ok(obj.usesCoreBtfFile, 'opened with the minimized BTF');
      obj.load();
    } finally {
      obj.close();
    }
    src.failed(elf);
    assert.ok(!existsSync(path!), 'a failed load removes the file');
  } finally {
    src.close();
    setCoreBtfSource(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an object bpftool cannot minimize is marked and not tried again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h16start-btf-'));
  const src = new StoreCoreBtf(dir);
  try {
    const junk = Buffer.from('not an ELF object');
    assert.equal(src.lookup(junk), undefined);
    await until('the failure to be recorded', () => readdirSync(dir).some((f) => f.endsWith('.bad')));
    assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.bad')), [], 'no object or temporary file left');
    assert.equal(src.lookup(junk), undefined);
    assert.equal(readdirSync(dir).length, 1, 'not started again');
  } finally {
    src.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without bpftool nothing is marked: it may be installed later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h16start-btf-'));
  const src = new StoreCoreBtf(dir, undefined, join(dir, 'no-such-bpftool'));
  try {
    assert.equal(src.lookup(Buffer.from('an object')), undefined);
    await until('the maker to end', () => readdirSync(dir).length === 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(readdirSync(dir), [], 'no .bad marker, no file left');
  } finally {
    src.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bpftool still making a file dies with a SIGKILLed ig; the next maker removes the files it left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h16start-btf-'));
  const cache = join(dir, 'cache');
  // a bpftool that takes long: it records its pid (sh execs sleep, same pid) and sleeps
  const slow = join(dir, 'slow-bpftool');
  writeFileSync(slow, `#!/bin/sh\necho $$ > ${join(dir, 'maker.pid')}\nexec sleep 60\n`);
  chmodSync(slow, 0o755);
  const store = fileURLToPath(new URL('../../src/runtime/core-btf-store.js', import.meta.url));
  const script = `import { StoreCoreBtf } from ${JSON.stringify(store)};
    new StoreCoreBtf(${JSON.stringify(cache)}, undefined, ${JSON.stringify(slow)}).lookup(Buffer.from('an object'));
    setInterval(() => {}, 1000);`;
  const ig = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
  const src = new StoreCoreBtf(cache, undefined, join(dir, 'no-such-bpftool'));
  try {
    await until('the slow bpftool to start', () => existsSync(join(dir, 'maker.pid')) && readFileSync(join(dir, 'maker.pid'), 'utf8').endsWith('\n'));
    const maker = Number(readFileSync(join(dir, 'maker.pid'), 'utf8'));
    const alive = () => { try { process.kill(maker, 0); return true; } catch { return false; } };
    assert.ok(alive());
    const exited = new Promise((r) => ig.once('exit', r));
    ig.kill('SIGKILL');
    await exited;
    await until('bpftool to die with its ig', () => !alive(), 5000);
    const left = readdirSync(cache).filter((f) => f.includes(`.${ig.pid}.`)).sort();
    assert.equal(left.length, 1, `the killed maker's object is left: ${left.join(', ')}`);
    assert.match(left[0]!, /\.o$/);
    src.lookup(Buffer.from('another object'));
    assert.deepEqual(readdirSync(cache).filter((f) => f.includes(`.${ig.pid}.`)), [], 'swept by the next maker');
  } finally {
    ig.kill('SIGKILL');
    src.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
