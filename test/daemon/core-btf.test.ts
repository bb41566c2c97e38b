// The daemon's minimized kernel BTF per eBPF object, the store's cache that `ig run` uses too
// (src/runtime/core-btf-store.ts): made by bpftool after a first load, used by the next loads of that object (the
// daemon's runs, in process and through a real daemon), and a file libbpf cannot use costs a retry with vmlinux's
// BTF, never a failed run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GadgetRun } from '../../src/service/gadget-run.js';
import { ClientStream, type EventWriter } from '../../src/service/client-stream.js';
import { EventType } from '../../src/service/consts.js';
import { StoreCoreBtf } from '../../src/runtime/core-btf-store.js';
import { defaultStorePath } from '../../src/oci/store.js';
import { DaemonHarness, OwnCat, until } from '../harness/daemon.js';
import { setCoreBtfSource, type CoreBtfSource } from '../../src/bpf/object.js';
import { PacketDecoder } from '../../src/datasource/codec.js';
import type { ApiGadgetEvent } from '../../src/service/proto.js';

/** Frames a client got (the field tables first). */
class Frames implements EventWriter {
  readonly frames: Buffer[] = [];
  write(ev: ApiGadgetEvent, cb?: () => void): boolean {
    if (ev.type === EventType.GadgetBatch) this.frames.push(ev.payload);
    if (cb) setImmediate(cb);
    return true;
  }
  end(): void { /* nothing buffered */ }
  emit(): void { /* the run's outcome is asserted */ }
}

// Our cat (a name and a file of this file's own): the machine's other cats do not count as ours.
const catDir = mkdtempSync(join(tmpdir(), 'ig-hclean-cat-'));
const cat = new OwnCat(catDir, 'hcorebtfcat');
after(() => rmSync(catDir, { recursive: true, force: true }));

/** A trace_open run of 2 s while our cat opens its file; how many of those opens the client got. */
async function catOpens(): Promise<number> {
  const run = await GadgetRun.prepare('trace_open', { 'operator.LocalManager.host': 'true' });
  const f = new Frames();
  run.attach(new ClientStream(f, 1 << 30));
  const p = spawn('sh', ['-c', 'while :; do "$0" "$1" >/dev/null; sleep 0.005; done', cat.bin, cat.file], { stdio: 'ignore' });
  try { await run.run(2000); } finally { p.kill('SIGKILL'); }
  const dec = new PacketDecoder();
  let n = 0;
  for (const fr of f.frames) {
    for (const d of dec.decode(fr)) {
      const comm = d.ds.getField('proc.comm')!;
      const fname = d.ds.getField('fname')!;
      for (let k = 0; k < d.batch.liveCount; k++) {
        const i = d.batch.live[k]!;
        if (comm.get(d.batch, i) === cat.comm && fname.get(d.batch, i) === cat.file) n++;
      }
    }
  }
  return n;
}

test('a second run loads with the minimized BTF bpftool made after the first, and traces as before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-hclean-btf-'));
  const cache = new StoreCoreBtf(dir);
  // The files each run was answered with. The exe tracker's start-up sweep (an object of its own, opened from the
  // tracker's ELF 500 ms after the tracker's start) may already be answered in the first run, with the file bpftool
  // made after the tracker's load; trace_open's object never is.
  let hits: string[] = [];
  setCoreBtfSource({ lookup: (elf) => { const p = cache.lookup(elf); if (p) hits.push(p); return p; }, failed: (elf) => cache.failed(elf) });
  try {
    assert.ok(await catOpens() > 0, 'first run (vmlinux BTF) traces');
    const first = hits;
    hits = [];
    assert.ok(first.length <= 1, `first run: at most the sweep's lookup is answered (${first.join(', ')})`);
    await until('bpftool to make a file', () => readdirSync(dir).some((f) => f.endsWith('.btf')), 30000);
    // The exe tracker's object may still be in the making: wait for every bpftool this cache started.
    await until('bpftool to finish', () => readdirSync(dir).every((f) => f.endsWith('.btf') || f.endsWith('.bad')), 30000);
    assert.ok(await catOpens() > 0, 'second run (minimized BTF) traces');
    // trace_open's object: a file the first run was not answered with; besides it, the exe tracker's load and its
    // sweep (each run starts its own tracker)
    assert.ok(hits.some((p) => !first.includes(p)) && hits.length <= 3, `the second load used the minimized BTF (answered: ${hits.join(', ')}; first run: ${first.join(', ')})`);
  } finally { cache.close(); setCoreBtfSource(undefined); rmSync(dir, { recursive: true, force: true }); }
});

test('a BTF file libbpf cannot use: the load is retried with the kernel\'s BTF and the file is dropped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h14d-btf-'));
  const bad = join(dir, 'bad.btf');
  writeFileSync(bad, Buffer.from('not a BTF file at all'));
  let failed = 0;
  const src: CoreBtfSource = { lookup: () => (failed ? undefined : bad), failed: () => { failed++; } };
  setCoreBtfSource(src);
  try {
    assert.ok(await catOpens() > 0, 'the run traces');
    assert.equal(failed, 1, 'the file was reported unusable');
  } finally { setCoreBtfSource(undefined); rmSync(dir, { recursive: true, force: true }); }
});

test('a real daemon loads with the store\'s file, the one `ig run` makes and uses', async () => {
  const store = join(defaultStorePath(), 'cache', 'core-btf');
  const d = new DaemonHarness('daemon-btf-hclean');
  try {
    await d.start(['-v']);
    // The first run may be the one that has bpftool make the file (nobody ran trace_open on this store before);
    // a later one loads with it.
    let line: string | undefined;
    for (let k = 0; k < 5 && !line; k++) {
      const r = d.ctl(['run', 'trace_open', '--host', '--comm', 'hcleannone', '--timeout', '1']);
      assert.equal(r.code, 0, r.stderr);
      line = d.proc!.stderr.split('\n').find((l) => l.includes('minimized kernel BTF: loading with '));
      if (!line) await new Promise((res) => setTimeout(res, 2000));
    }
    assert.ok(line, `the daemon never loaded with a minimized BTF: ${d.proc!.stderr.slice(-800)}`);
    const path = line.slice(line.indexOf('loading with ') + 'loading with '.length).trim();
    assert.equal(join(path, '..'), store, 'the file is in the store\'s cache');
    assert.ok(existsSync(path), 'and stays there for the next process');
  } finally { await d.cleanup(); }
});
