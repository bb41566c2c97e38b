// `ig run`'s minimized kernel BTF in the store (src/runtime/core-btf-store.ts): bpftool makes the file of an object
// once, later opens of that object load with it (trace_open's real object, loaded and closed here), a failed load
// removes it, and an object bpftool cannot minimize is marked and never tried again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
