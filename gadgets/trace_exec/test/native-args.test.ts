// trace_exec on the reader thread: its WASM module joins the arguments in JS, and the gadget declares what the
// module does (gadget.yaml: wasm.native-equivalent, strings.joined.*) so that `-o json` renders the joined
// arguments natively (native/src/joined_strings.c). The lines must be the module's, byte for byte: the same execs
// are traced by two runs at once, one rendering on the reader thread and one forced onto the JS path
// (IG_NATIVE_RENDER=0, where the module runs), including arguments with spaces, empty ones, non-ASCII and broken
// UTF-8, more arguments than captured, long ones, and an exec storm of short-lived processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';

interface ExecEvent { timestamp: string; proc: { comm: string; pid: number }; args: string }

/** A line without its wall-clock times (each run computes its own boot-to-wall-clock offset). */
function comparable(line: string): string {
  return line.replace(/"timestamp":"[^"]*"/, '"timestamp":""').replace(/"timestamp_raw":\d+/, '"timestamp_raw":0');
}

test('trace_exec -o json on the reader thread prints what its WASM module joins, byte for byte, under an exec storm', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-exec-native-'));
  const prog = join(dir, 'igjoin_true');
  copyFileSync('/bin/true', prog);
  const args = ['--comm', 'igjoin_sh', '-o', 'json', '-v'];
  const sh = join(dir, 'igjoin_sh');
  copyFileSync('/bin/bash', sh);
  const native = new IgProcess(['run', 'trace_exec', '--host', ...args]);
  const js = new IgProcess(['run', 'trace_exec', '--host', ...args], { IG_NATIVE_RENDER: '0' });
  const storm = 300;
  let rn: Awaited<ReturnType<IgProcess['stop']>>;
  let rj: typeof rn;
  try {
    // both attached: a probe exec shows up in both
    const probe = () => { spawnSync(sh, ['-c', `${prog} probe`], { stdio: 'ignore' }); };
    await native.waitFor<ExecEvent>((e) => e.args.endsWith('\u00a0probe'), probe, { timeoutMs: 30000 });
    await js.waitFor<ExecEvent>((e) => e.args.endsWith('\u00a0probe'), probe, { timeoutMs: 30000 });
    const many = Array.from({ length: 25 }, (_, k) => `m${k}`).join(' ');
    const long = 'L'.repeat(200);
    const script = [
      `${prog} 'with space' '' x '' y ''`,
      `${prog} é 日本 $'a\\xffb' $'\\xc3' $'\\t\\n\\x01"\\\\'`,
      `${prog} ${many}`,
      `${prog} ${long} after`,
      `${prog}`,
      `for i in $(seq 1 ${storm}); do ${prog} storm $i; done`,
      `${prog} last`,
    ].join('\n');
    assert.equal(spawnSync(sh, ['-c', script], { stdio: 'ignore' }).status, 0);
    // the last exec's line in both outputs (or a minute)
    const hasLast = (out: string) => out.includes(`${prog}\u00a0last"`);
    for (let t = 0; t < 240 && !(hasLast(native.stdout) && hasLast(js.stdout)); t++) await new Promise((r) => setTimeout(r, 250));
  } finally {
    [rn, rj] = await Promise.all([native.stop(), js.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  {
    assert.equal(rn.code, 0, rn.stderr);
    assert.equal(rj.code, 0, rj.stderr);
    // the probes' execs depend on when each run attached: compare from the first exec of the script on
    const lines = (out: string) => out.split('\n').filter((l) => l.includes('igjoin_true') && !l.includes('\u00a0probe"')).map(comparable);
    const a = lines(rn.stdout);
    const b = lines(rj.stdout);
    assert.equal(a.length, storm + 6, `${a.length} exec events`);
    assert.equal(a.length, b.length, 'both runs saw the same execs');
    for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `line ${i}`);
    // the module's join, as upstream's (U+00A0, empty arguments kept, broken UTF-8 as U+FFFD)
    const all = rn.stdout.split('\n').filter((l) => l.includes('igjoin_true')).map((l) => JSON.parse(l) as ExecEvent);
    const ev = all.slice(all.findIndex((e) => e.args.includes('with space')));
    assert.equal(ev[0]!.args, [prog, 'with space', '', 'x', '', 'y', ''].join('\u00a0'));
    assert.equal(ev[1]!.args, [prog, 'é', '日本', 'a\ufffdb', '\ufffd', '\t\n\u0001"\\'].join('\u00a0'));
    assert.equal(ev[2]!.args, [prog, ...Array.from({ length: 19 }, (_, k) => `m${k}`)].join('\u00a0'), 'at most 20 arguments captured');
    const m = /exec: (\d+) records rendered on the reader thread, (\d+) by JS/.exec(rn.stderr);
    assert.ok(m, rn.stderr);
    assert.ok(Number(m[1]) >= storm, `reader thread rendered ${m[1]}, JS ${m[2]}: a new process per event must not go to JS`);
    assert.doesNotMatch(rj.stderr, /rendered on the reader thread/);
  }
});
