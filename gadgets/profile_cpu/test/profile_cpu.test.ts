// profile_cpu: a C program built here burns CPU in a known function (frame pointers, no inlining) and dd burns
// CPU in the kernel; when ig stops, the samples carry the user stack symbolised from the program's ELF symbols
// and kernel stacks symbolised from /proc/kallsyms.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { compileC, tempDir } from '../../../test/harness/workload.js';
import { waitOwnProgram } from '../../../test/harness/owned-progs.js';
import { ownedProgIds, stillLoaded, until } from '../../../test/harness/daemon.js';

interface Sample {
  proc: { comm: string; pid: number; tid: number };
  kern_stack: string; kern_stack_raw: number; user_stack: string; samples: number;
  user_stack_raw: { stack_id: number; tgid_level0: number; inode: number };
}

const HOT = `
volatile unsigned long sink;
__attribute__((noinline)) void ig_hot_spin(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i * 2654435761u; }
__attribute__((noinline)) void ig_hot_caller(void) { for (;;) ig_hot_spin(100000000); }
int main(void) { ig_hot_caller(); return 0; }
`;

const tmp = tempDir('ig-profile-cpu-');
/** The BPF programs our ig runs held (their fds): what must be gone at the end, whatever else runs profile_cpu. */
const held = new Set<number>();
const kids: ChildProcess[] = [];
let hotPath = '';
before(() => { hotPath = compileC(tmp.dir, 'ighotburn', HOT, ['-O0', '-g', '-fno-omit-frame-pointer', '-fno-inline']); });
after(() => { for (const k of kids) k.kill('SIGKILL'); tmp.cleanup(); });

/** CPU time (user + system) process `pid` has used so far, in seconds (/proc/<pid>/stat; USER_HZ is 100 on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) ": state is f[0], utime f[11], stime f[12]
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * Profile for `seconds`; with `busy`, longer if needed (up to 30 s) until that process has had `cpu` seconds of CPU
 * while the gadget ran: on a machine that others keep busy, a CPU burner gets only a share of a CPU, and the
 * samples it gets are proportional to that share. Returns the CPU time `busy` had while the gadget ran.
 */
async function profile(extra: string[], seconds: number, busy?: { pid: number; cpu: number }): Promise<{ samples: Sample[]; stdout: string; busyCpu: number }> {
  const ig = new IgProcess(['run', 'profile_cpu', '--host', ...extra]);
  // A run that never attaches must not outlive the test (seen at load 30: the file then hung for an hour).
  try { await waitOwnProgram(ig.pid, 'ig_prof_cpu', 60000); } catch (e) { await ig.stop('SIGKILL'); throw e; }
  for (const id of ownedProgIds(ig.pid)) held.add(id);
  const cpu0 = busy ? cpuSeconds(busy.pid) : 0;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  for (const deadline = Date.now() + 30000; busy && cpuSeconds(busy.pid) - cpu0 < busy.cpu && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const busyCpu = busy ? cpuSeconds(busy.pid) - cpu0 : 0;
  const r = await ig.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  // -o json's arrays, one per line (-o jsonpretty and yaml are read by the caller)
  const arrays = r.stdout.split('\n').filter((l) => l.startsWith('[') && l.endsWith(']'));
  return { samples: arrays.flatMap((l) => JSON.parse(l) as Sample[]), stdout: r.stdout, busyCpu };
}

test('user stacks name the hot function and its callers; kernel stacks name kernel functions', async () => {
  const hot = spawn(hotPath, [], { stdio: 'ignore' });
  const dd = spawn('dd', ['if=/dev/urandom', 'of=/dev/null', 'bs=1M', 'status=none'], { stdio: 'ignore' });
  kids.push(hot, dd);
  const { samples, stdout, busyCpu } = await profile(['-o', 'json', '--collect-ustack'], 2, { pid: hot.pid!, cpu: 1 });
  hot.kill('SIGKILL');
  dd.kill('SIGKILL');
  assert.equal(stdout.split('\n').filter((l) => l.startsWith('[')).length, 1, 'one report, when the gadget stops');

  const mine = samples.filter((s) => s.proc.pid === hot.pid);
  assert.ok(mine.length > 0, `samples of the hot program: ${samples.length} samples in total`);
  const total = mine.reduce((a, s) => a + s.samples, 0);
  // cpu-clock at 49 Hz on every CPU samples whoever runs there: 49 samples a second of CPU the program had. Seen
  // on a machine loaded 16–20: 0.89–0.93 of that (attach and detach are not exactly where CPU time is read).
  const rate = total / busyCpu;
  assert.ok(total >= 20 && rate >= 0.6 * 49 && rate <= 1.4 * 49, `about 49 samples per CPU second: ${total} samples in ${busyCpu.toFixed(2)} s of CPU`);
  assert.equal(mine[0]!.proc.comm, 'ighotburn');
  const top = mine.filter((s) => s.user_stack.startsWith('[0]ig_hot_spin; '));
  assert.ok(top.length > 0, `innermost frame ig_hot_spin: ${mine.map((s) => s.user_stack).join(' | ')}`);
  assert.match(top[0]!.user_stack, /^\[0\]ig_hot_spin; \[1\]ig_hot_caller; \[2\]main; /);
  assert.equal(top[0]!.user_stack_raw.tgid_level0, hot.pid);
  assert.ok(top[0]!.user_stack_raw.inode > 0);

  const kernel = samples.filter((s) => s.proc.pid === dd.pid && s.kern_stack !== '');
  assert.ok(kernel.length > 0, 'dd spends its time in the kernel (reading /dev/urandom)');
  const kallsyms = new Set(readFileSync('/proc/kallsyms', 'utf8').split('\n').map((l) => l.split(/\s+/)[2]));
  for (const s of kernel) {
    const names = [...s.kern_stack.matchAll(/\[(\d+)\]([^;]+); /g)];
    assert.ok(names.length > 0, s.kern_stack);
    names.forEach((m, i) => assert.equal(Number(m[1]), i));
    for (const m of names) assert.ok(kallsyms.has(m[2]), `${m[2]} is a kernel symbol`);
  }
  assert.ok(kernel.some((s) => /\[\d+\]entry_SYSCALL_64/.test(s.kern_stack)), 'syscall entry at the bottom of the stacks');
  // Default sort: most samples first.
  for (let i = 1; i < samples.length; i++) assert.ok(samples[i - 1]!.samples >= samples[i]!.samples);
});

test('--kernel-stacks-only and --pid: only the process, no user stack', async () => {
  const hot = spawn(hotPath, [], { stdio: 'ignore' });
  kids.push(hot);
  const { samples } = await profile(['-o', 'json', '--kernel-stacks-only', '--pid', String(hot.pid)], 1);
  hot.kill('SIGKILL');
  assert.ok(samples.length > 0);
  assert.ok(samples.every((s) => s.proc.pid === hot.pid && s.user_stack === '' && s.user_stack_raw.stack_id === 0xffffffff), JSON.stringify(samples[0]));
  // user_stack_id is json.skip (upstream's gadget.yaml): the aggregation key is not printed, its twin stack_id is
  assert.ok(samples.every((s) => !('user_stack_id' in s)), JSON.stringify(samples[0]));
});

test('json.skip: user_stack_id is not in -o jsonpretty or yaml, its column still is with --fields, and --filter and --sort read it', async () => {
  const hot = spawn(hotPath, [], { stdio: 'ignore' });
  kids.push(hot);
  const only = ['--kernel-stacks-only', '--pid', String(hot.pid)];
  const [pretty, yaml, cols] = await Promise.all([
    profile(['-o', 'jsonpretty', ...only], 1),
    profile(['-o', 'yaml', ...only], 1),
    // no user stacks: every id is (u32)-1, so the filter keeps them all; 0 would keep none
    profile(['--fields', 'proc.pid,user_stack_id,samples', '--filter', 'user_stack_id==4294967295', '--sort', 'user_stack_id,-samples', ...only], 1),
  ]);
  hot.kill('SIGKILL');
  assert.match(pretty.stdout, /"user_stack_raw": \{/);
  assert.doesNotMatch(pretty.stdout, /user_stack_id/);
  assert.match(yaml.stdout, /^ {4}stack_id: 4294967295$/m);
  assert.doesNotMatch(yaml.stdout, /user_stack_id/);
  const rows = cols.stdout.trim().split('\n');
  assert.match(rows[0]!, /^PID\s+USER_STACK_ID\s+SAMPLES$/);
  assert.ok(rows.slice(1).some((l) => new RegExp(`^\\s*${hot.pid}\\s+4294967295\\s+\\d+$`).test(l)), cols.stdout);
});

test('columns: one table at the end with the stacks', async () => {
  const hot = spawn(hotPath, [], { stdio: 'ignore' });
  kids.push(hot);
  const { stdout } = await profile(['--collect-ustack', '--pid', String(hot.pid), '--fields', 'proc.comm,proc.pid,user_stack,samples'], 1);
  hot.kill('SIGKILL');
  const lines = stdout.trim().split('\n');
  assert.match(lines[0]!, /^COMM\s+PID USER_STACK\s+SAMPLES$/);
  assert.ok(lines.slice(1).some((l) => new RegExp(`^ighotburn\\s+${hot.pid} \\[0\\]ig_hot_spin; \\[1\\]ig_hot_caller;.*\\d+$`).test(l)), stdout);
});

test('nothing stays loaded', async () => {
  assert.ok(held.size > 0, 'the runs held programs');
  assert.deepEqual(await until('the programs our runs held to be unloaded', () => stillLoaded([...held]).length === 0 && [], 5000).catch(() => stillLoaded([...held])), []);
});
