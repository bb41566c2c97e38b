// The exe tracker's start-up sweep (an iterator over every task, run once in each `ig run`) must not hold the
// kernel's whole BTF in memory: libbpf's own lookup of the iterator's attach point read and copied all of
// /sys/kernel/btf/vmlinux (≈11.5 MiB of C heap for ≈150 ms, above what the streaming run holds); ig finds that one type
// id with two streaming passes over the file (native/src/iter_target.c). Measured on this process: its peak resident
// set is reset just before the sweep (/proc/self/clear_refs 5), so VmHWM afterwards is the sweep's own peak.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExeTracker } from '../../src/operators/process/exe-tracker.js';
import { StoreCoreBtf } from '../../src/runtime/core-btf-store.js';
import { setCoreBtfSource } from '../../src/bpf/object.js';
import { trimMallocHeap } from '../../src/bpf/process-memory.js';
import { until } from '../harness/daemon.js';

const MiB = 1024;

function statusKb(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'latin1'));
  assert.ok(m, `no ${key} in /proc/self/status`);
  return Number(m[1]);
}

test('exe tracker: the start-up sweep finds its attach point without holding the kernel\'s BTF (peak +< 3 MiB)', async (tc) => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-sweep-rss-'));
  const cache = new StoreCoreBtf(dir);
  setCoreBtfSource(cache); // CO-RE from a minimized BTF, as in `ig run`: only the attach point is left to find
  let t: ExeTracker | undefined;
  try {
    t = ExeTracker.start(); // no file yet: this load reads vmlinux's BTF for CO-RE and has bpftool make one
    await until('bpftool to minimize the tracker\'s BTF', () => {
      const files = readdirSync(dir);
      return files.some((f) => f.endsWith('.btf')) && files.every((f) => f.endsWith('.btf') || f.endsWith('.bad'));
    }, 30000);
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.bad')), 'bpftool could not minimize the tracker\'s BTF');
    trimMallocHeap(); // what the tracker's own load freed goes back first, so the sweep cannot reuse it unseen
    writeFileSync('/proc/self/clear_refs', '5'); // VmHWM := VmRSS
    const before = statusKb('VmRSS');
    assert.equal(t.sweep(), true, `the sweep ran (${t.sweepError ?? ''})`);
    const peak = statusKb('VmHWM');
    const msg = `resident before the sweep ${(before / MiB).toFixed(1)} MiB, peak during it ${(peak / MiB).toFixed(1)} MiB`;
    tc.diagnostic(msg);
    // libbpf's lookup: +11–12 MiB here (two copies of a 5.4 MB BTF and its index); the sweep's own object: < 1 MiB.
    assert.ok(peak - before < 3 * MiB, msg);
  } finally {
    t?.close();
    cache.close();
    setCoreBtfSource(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
