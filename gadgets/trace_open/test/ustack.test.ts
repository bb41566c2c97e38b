// trace_open --collect-ustack: upstream's `ustack` field (a hidden struct with `.addresses` and `.symbols`). A C
// program built with frame pointers opens a file through a known chain of functions; its stack shows their
// names. The stack text is a memo of the native render plan (keyed by process image and stack id), so the lines
// stay on the reader thread once a stack is known; without the flag the field is empty and costs nothing (its map
// is loaded with one entry).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IgProcess } from '../../../test/harness/ig.js';

interface OpenEvent {
  fname: string;
  proc: { comm: string; pid: number };
  ustack: { addresses: string; symbols: string; stack_id: number; tgid_level0: number; inode: number };
}

const COMM = 'h11_ustk_open';
// The open is a raw syscall instruction in ig_ustack_open_file: libc's wrapper is built without frame pointers,
// so the kernel's frame-pointer unwinder could not walk past it.
const PROGRAM = `#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
static const char *target;
__attribute__((noinline)) void ig_ustack_open_file(void) {
  long fd;
  register long flags __asm__("rdx") = O_RDONLY;
  __asm__ volatile("syscall" : "=a"(fd) : "0"((long)SYS_openat), "D"((long)AT_FDCWD), "S"(target), "r"(flags) : "rcx", "r11", "memory");
  if (fd >= 0) close((int)fd);
}
__attribute__((noinline)) void ig_ustack_middle(void) { ig_ustack_open_file(); __asm__ volatile(""); }
__attribute__((noinline)) void ig_ustack_outer(void) { ig_ustack_middle(); __asm__ volatile(""); }
int main(int argc, char **argv) {
  (void)argc;
  target = argv[1];
  for (;;) { ig_ustack_outer(); usleep(50000); }
}
`;

let dir: string;
let marker: string;
let child: ChildProcess | undefined;

before(() => {
  if (process.arch !== 'x64') return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-h11-ustack-'));
  marker = path.join(dir, 'marker');
  fs.writeFileSync(marker, 'x');
  fs.writeFileSync(path.join(dir, 'p.c'), PROGRAM);
  // -O0: every function sets up its frame before its body (optimised code may set it up after the syscall)
  execFileSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-o', path.join(dir, COMM), path.join(dir, 'p.c')]);
  child = spawn(path.join(dir, COMM), [marker], { stdio: 'ignore' });
});

after(() => {
  child?.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * max_entries of the stack-trace maps (BPF_MAP_TYPE_STACK_TRACE = 7) the ig process holds, from its own fdinfo: the
 * user stack map is sized down to one entry when nothing is collected into it.
 */
function stackMapSizes(pid: number): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let info: string;
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // a descriptor closed meanwhile is not a map of the run
    }
    if (/^map_type:\s+7$/m.test(info)) out.push(Number(/^max_entries:\s+(\d+)$/m.exec(info)?.[1]));
  }
  return out;
}

/** The reader-thread statistics ig prints under -v at the end. */
function renderCounts(stderr: string): [number, number] {
  const m = /open: (\d+) records rendered on the reader thread, (\d+) by JS/.exec(stderr);
  assert.ok(m, `no render statistics in: ${stderr}`);
  return [Number(m[1]), Number(m[2])];
}

test('--collect-ustack: ustack.symbols names the functions that opened the file; lines stay on the reader thread', { skip: process.arch === 'x64' ? false : 'the test program issues an x86-64 syscall instruction' }, async () => {
  const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json', '--comm', COMM, '--collect-ustack', '-v']);
  let ev: OpenEvent;
  try {
    ev = await ig.waitFor<OpenEvent>((e) => e.fname === marker && e.ustack.symbols.includes('ig_ustack_outer'), () => {}, { timeoutMs: 30_000 });
    const sizes = stackMapSizes(ig.pid);
    assert.ok(sizes.length === 1 && sizes[0]! > 1, `the user stack map keeps its declared size: ${sizes}`);
    // let the loop open the file ~20 more times: the same stack of the same process, a known memo key
    const seen = ig.events<OpenEvent>().length;
    while (ig.events<OpenEvent>().length < seen + 20) await new Promise((r) => setTimeout(r, 100));
  } finally {
    const res = await ig.stop();
    assert.equal(res.code, 0, res.stderr);
  }
  assert.equal(ev.proc.pid, child!.pid);
  assert.equal(ev.ustack.tgid_level0, child!.pid);
  assert.ok(ev.ustack.inode > 0);
  const syms = ev.ustack.symbols.split('; ').filter(Boolean);
  const addrs = ev.ustack.addresses.split('; ').filter(Boolean);
  assert.equal(syms.length, addrs.length, 'one symbol per address');
  for (const a of addrs) assert.match(a, /^0x[0-9a-f]+$/);
  // innermost first: open_file (where the syscall is), then its callers up to main
  const at = (s: string) => syms.findIndex((x) => x.startsWith(s));
  assert.equal(at('ig_ustack_open_file'), 0, ev.ustack.symbols);
  assert.ok(at('ig_ustack_middle') === 1 && at('ig_ustack_outer') === 2 && at('main') === 3, ev.ustack.symbols);
  // every event of the loop has the same stack text
  const mine = ig.events<OpenEvent>().filter((e) => e.fname === marker && e.ustack.stack_id === ev.ustack.stack_id);
  assert.ok(mine.length > 10);
  for (const e of mine) assert.equal(e.ustack.symbols, ev.ustack.symbols);
  const [native, js] = renderCounts(ig.stderr);
  assert.ok(native > 0, `reader thread rendered ${native}, JS ${js}: a known stack is a memo hit`);
});

test('without --collect-ustack the stack is empty and the reader thread renders', { skip: process.arch === 'x64' ? false : 'the test program issues an x86-64 syscall instruction' }, async () => {
  const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json', '--comm', COMM, '-v']);
  try {
    await ig.waitFor<OpenEvent>((e) => e.fname === marker, () => {}, { timeoutMs: 30_000 });
    assert.deepEqual(stackMapSizes(ig.pid), [1], 'nothing is collected: the user stack map has one entry, not 10,000');
    const seen = ig.events<OpenEvent>().length;
    while (ig.events<OpenEvent>().length < seen + 10) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await ig.stop();
  }
  for (const e of ig.events<OpenEvent>()) {
    assert.deepEqual([e.ustack.addresses, e.ustack.symbols, e.ustack.inode, e.ustack.stack_id], ['', '', 0, 0]);
  }
  const [native] = renderCounts(ig.stderr);
  assert.ok(native > 0);
});
