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
    // args_size and args_count are json.skip (as upstream): the joined args read them from the record, unshown
    for (const l of [...a, ...b]) assert.doesNotMatch(l, /"args_(count|size)"/);
    assert.doesNotMatch(rn.stderr, /exec: JSON rendered in JS/);
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

test('trace_exec -o columns on the reader thread: the joined arguments cell (widths, ellipsis, U+00A0, trimmed row ends) is the JS renderer\'s, byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-exec-native-col-'));
  const prog = join(dir, 'igjoin_true');
  copyFileSync('/bin/true', prog);
  const sh = join(dir, 'igjoin_sh');
  copyFileSync('/bin/bash', sh);
  const runs: [string, string[]][] = [
    // args last (unpadded, never cut), and args between two columns with a width and an ellipsis in the middle
    ['last', ['--fields', 'proc.comm,proc.pid,args']],
    ['cut', ['--fields', 'proc.comm,args,proc.pid', '--annotate', 'exec.args:columns.width=24,exec.args:columns.ellipsis=middle']],
  ];
  const procs = runs.flatMap(([, extra]) => {
    const args = ['run', 'trace_exec', '--host', '--comm', 'igjoin_sh', '-o', 'columns', '-v', ...extra];
    return [new IgProcess(args), new IgProcess(args, { IG_NATIVE_RENDER: '0' })];
  });
  let res: Awaited<ReturnType<IgProcess['stop']>>[] = [];
  try {
    const probe = () => { spawnSync(sh, ['-c', `${prog} probe`], { stdio: 'ignore' }); };
    for (const p of procs) {
      for (let t = 0; t < 120 && !p.stdout.includes('probe'); t++) { probe(); await new Promise((r) => setTimeout(r, 250)); }
      assert.ok(p.stdout.includes('probe'), `attached: ${p.stderr}`);
    }
    const script = [
      `${prog} 'with space' '' x '' y ''`,
      `${prog} é 日本 $'a\\xffb' $'\\xc3' $'\\t\\n\\x01"\\\\'`,
      `${prog} ${Array.from({ length: 25 }, (_, k) => `m${k}`).join(' ')}`,
      `${prog} ${'L'.repeat(200)} after`,
      `${prog}`,
      `for i in $(seq 1 50); do ${prog} storm $i; done`,
      `${prog} last`,
    ].join('\n');
    assert.equal(spawnSync(sh, ['-c', script], { stdio: 'ignore' }).status, 0);
    const done = (out: string) => /\blast\b/.test(out.split('\n').filter((l) => !l.includes('probe')).join('\n'));
    for (let t = 0; t < 240 && !procs.every((p) => done(p.stdout)); t++) await new Promise((r) => setTimeout(r, 250));
  } finally {
    res = await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  for (let k = 0; k < runs.length; k++) {
    const [name] = runs[k]!;
    const [rn, rj] = [res[2 * k]!, res[2 * k + 1]!];
    assert.equal(rn.code, 0, rn.stderr);
    assert.equal(rj.code, 0, rj.stderr);
    // the script's rows (the probes' depend on when each run attached)
    const rows = (out: string) => out.split('\n').slice(1).filter((l) => l !== '' && !l.includes('probe'));
    const a = rows(rn.stdout);
    const b = rows(rj.stdout);
    assert.equal(a.length, 57, `${name}: ${a.length} rows (56 of the program, 1 of seq)`);
    for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `${name} row ${i}`);
    const m = /exec: (\d+) records rendered on the reader thread, (\d+) by JS/.exec(rn.stderr);
    assert.ok(m && Number(m[1]) >= 57, `${name}: rendered on the reader thread: ${m?.[1]}, by JS ${m?.[2]}`);
  }
  // the trimmed end: the first script exec's last argument is empty, its row ends with y (JS trimEnd()s the U+00A0)
  assert.match(res[0]!.stdout, /with space\u00a0\u00a0x\u00a0\u00a0y\n/);
});
