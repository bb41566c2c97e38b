// ig's own helper objects (exe tracker, socket tracker) are built as gadget images are: with -g for .BTF and
// .BTF.ext (libbpf's CO-RE relocations, bpftool's minimized BTF), the DWARF stripped. Every run reads the whole
// object into memory; the DWARF was ≈85 % of it (the exe tracker 0.86 MB → 0.20 MB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { exeTrackerObjectPath } from '../../src/operators/process/exe-tracker.js';
import { trackerObjectPath } from '../../src/operators/socketenricher/tracker.js';

for (const [name, path] of [['exe tracker', exeTrackerObjectPath], ['socket tracker', trackerObjectPath]] as const) {
  test(`${name}: the object keeps .BTF and .BTF.ext and has no DWARF section`, () => {
    const obj = path();
    const sections = execFileSync('readelf', ['-S', '-W', obj], { encoding: 'utf8' }).split('\n').map((l) => /^\s*\[\s*\d+\]\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => !!s);
    assert.ok(sections.includes('.BTF') && sections.includes('.BTF.ext'), sections.join(' '));
    assert.deepEqual(sections.filter((s) => s.includes('.debug_')), []);
    assert.ok(statSync(obj).size < 300 * 1024, `${obj}: ${statSync(obj).size} bytes`);
  });
}
