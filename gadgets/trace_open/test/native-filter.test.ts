// Filters and columns on the reader thread, over a real trace_open run: the native plan (default) and the JS
// pipeline (IG_NATIVE_RENDER=0) watch the same opens at the same time and must print the same records, the same
// text. File names include wide characters, emoji, combining marks, controls and a bidi override (the native
// columns renderer measures them as string-width does), and a ZWJ emoji sequence, which it leaves to JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';

const COMM = 'igflt_sh';
const NAMES = ['keep-1', 'keep-2', 'drop-1', 'keep-日本-3', 'keep-\x1b[1m-4', 'keep-tab\t-5', 'keep-\u202e-6', 'keep-very-long-name-that-goes-on-and-on-and-on-and-on-7', 'drop-2', 'keep-é-8', 'keep-😀ｶﾞ中文e\u0301-9', 'keep-👨\u200d👩-10'];

/** Run the same args with the native plan and with JS only, side by side, over the same workload. */
async function sideBySide(args: string[], done: (out: string) => boolean): Promise<{ native: IgProcess; js: IgProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-h16flt-'));
  const sh = join(dir, COMM);
  copyFileSync('/bin/bash', sh); // a comm of our own: only this script's opens are traced
  for (const n of NAMES.filter((x) => !x.includes('5'))) writeFileSync(join(dir, n), 'x'); // keep-tab-5 is missing
  const common = ['run', 'trace_open', '--host', '--comm', COMM, '-v', ...args];
  const native = new IgProcess(common);
  const js = new IgProcess(common, { IG_NATIVE_RENDER: '0' });
  try {
    const probe = () => { spawnSync(sh, ['-c', `: < ${dir}/keep-probe 2>/dev/null`], { stdio: 'ignore' }); };
    const ready = async (ig: IgProcess) => {
      const deadline = Date.now() + 30000;
      while (!ig.stdout.includes('probe') && Date.now() < deadline) { probe(); await new Promise((r) => setTimeout(r, 200)); }
      assert.ok(ig.stdout.includes('probe'), `not attached in time: ${ig.stderr}`);
    };
    await Promise.all([ready(native), ready(js)]);
    const script = NAMES.map((n) => `: < '${join(dir, n).replace(/'/g, `'\\''`)}'`).join('; ') + `; : < ${dir}/zz-end`;
    for (let round = 0; round < 3; round++) spawnSync(sh, ['-c', `${script} 2>/dev/null`], { stdio: 'ignore' });
    const deadline = Date.now() + 20000;
    while (!(done(native.stdout) && done(js.stdout)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await Promise.all([native.stop(), js.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(native.child.exitCode, 0, native.stderr);
  assert.equal(js.child.exitCode, 0, js.stderr);
  return { native, js };
}

/** The lines after the ones the readiness probe produced. */
const afterProbe = (out: string) => out.split('\n').filter((l) => !l.includes('probe'));

test('-o json with --filter and -E: the reader thread keeps and prints exactly what the JS filter does', async () => {
  const filter = ['-o', 'json', '--filter', 'proc.comm==igflt_sh', '-E', "(fname contains '/keep-' or fname endsWith 'end') and error != 'EACCES'"];
  const { native, js } = await sideBySide(filter, (o) => (o.match(/zz-end/g) ?? []).length >= 3);
  assert.match(native.stderr, /open: records rendered on the reader thread/);
  assert.match(js.stderr, /JSON rendered in JS \(IG_NATIVE_RENDER=0\)/);
  const strip = (out: string) => afterProbe(out).filter((l) => l.startsWith('{')).map((l) => {
    const e = JSON.parse(l) as Record<string, unknown>;
    delete e['timestamp']; delete e['timestamp_raw']; // each process has its own boot-to-wall offset
    return JSON.stringify(e);
  });
  const a = strip(native.stdout);
  const b = strip(js.stdout);
  assert.equal(a.length, 3 * 11, `every keep-*/zz-end open, 3 rounds:\n${a.join('\n')}`);
  assert.deepEqual(a, b);
  assert.ok(a.every((l) => !l.includes('drop-')));
  assert.ok(a.some((l) => l.includes('"error":"ENOENT"')), 'the missing file is kept too');
  const m = /open: (\d+) records rendered on the reader thread, (\d+) by JS/.exec(native.stderr);
  assert.ok(m && Number(m[1]) > 0, `reader thread rendered some: ${native.stderr}`);
});

test('-o columns (with a filter): rows are byte for byte those of the JS renderer, wide and control characters included', async () => {
  const { native, js } = await sideBySide(['--filter', 'fname~/keep-|/zz-'], (o) => (o.match(/zz-end/g) ?? []).length >= 3);
  assert.match(native.stderr, /open: records rendered on the reader thread/);
  const a = afterProbe(native.stdout);
  const b = afterProbe(js.stdout);
  assert.match(a[0]!, /^RUNTIME\.CONTAINERNAME +COMM +PID/, 'header first');
  assert.equal(a.filter((l) => l.includes('zz-end')).length, 3);
  assert.deepEqual(a, b);
  assert.ok(a.some((l) => l.includes('keep-😀ｶﾞ中文e\u0301-9')) && a.some((l) => l.includes('keep-👨\u200d👩-10')));
  assert.ok(a.some((l) => l.includes('keep-日本-3')) && a.some((l) => l.includes('keep-\\e[1m-4')) && a.some((l) => l.includes('keep-\\u202e-6')));
  const m = /open: (\d+) records rendered on the reader thread, (\d+) by JS/.exec(native.stderr);
  assert.ok(m && Number(m[1]) > 0 && Number(m[2]) > 0, `both paths used: ${native.stderr}`);
});
