// Helpers that make kernel activity for the gadget tests: child processes that talk over lines, network
// namespaces made (and always deleted) by the test, and reading ig's column output.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import type { IgProcess } from './ig.js';
import { heldProgramIds } from '../../src/bpf/testutil.js';

/** A long-lived child driven by lines on stdin; its stdout lines are collected. */
export class LineChild {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  private buf = '';
  exited = false;

  constructor(cmd: string, args: string[], opts: SpawnOptions = {}) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      const parts = this.buf.split('\n');
      this.buf = parts.pop()!;
      this.lines.push(...parts);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.child.stdin!.on('error', () => undefined);
    this.child.on('exit', () => { this.exited = true; });
  }

  get pid(): number { return this.child.pid!; }

  send(line: string): void { if (!this.exited) this.child.stdin!.write(`${line}\n`); }

  /** Wait for a stdout line matching `re` (lines already printed count). */
  async waitLine(re: RegExp, timeoutMs = 10000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit) return hit;
      if (this.exited || Date.now() > deadline) throw new Error(`child ${this.pid}: no line matching ${re} (exited: ${this.exited}); stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async kill(): Promise<void> {
    if (this.exited || this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await done;
  }
}

/** A network namespace created by the test, with lo up. Always call del() (in finally / after). */
export class TestNetns {
  readonly name: string;
  readonly path: string;

  constructor(tag: string) {
    this.name = `igt-${tag}-${process.pid}`;
    this.path = `/var/run/netns/${this.name}`;
    run('ip', ['netns', 'add', this.name]);
    try {
      run('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
    } catch (e) {
      this.del();
      throw e;
    }
  }

  get inode(): number { return Number(statSync(this.path).ino); }
  /** Command prefix that runs a program in this namespace (only the network namespace changes). */
  get prefix(): string[] { return ['nsenter', `--net=${this.path}`]; }
  exec(cmd: string, args: string[]): string { return run('nsenter', [`--net=${this.path}`, cmd, ...args]); }
  del(): void { spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' }); }
}

export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Columns output: poke until a data line matches `row`, stop ig and return the header line and that row.
 */
export async function columnsOf(ig: IgProcess, row: RegExp, poke: () => void, timeoutMs = 20000): Promise<{ header: string; row: string; stdout: string }> {
  const deadline = Date.now() + timeoutMs;
  const find = () => ig.stdout.split('\n').slice(1).find((l) => row.test(l));
  while (!find() && Date.now() < deadline && ig.child.exitCode === null) {
    poke();
    await new Promise((r) => setTimeout(r, 250));
  }
  await ig.stop();
  const header = ig.stdout.split('\n')[0] ?? '';
  const hit = find();
  if (!hit) throw new Error(`no row matching ${row}; ig stdout: ${ig.stdout.slice(0, 600)}; stderr: ${ig.stderr}`);
  return { header, row: hit, stdout: ig.stdout };
}

/** python3 for activity Node cannot make (raw syscalls, libc calls). */
export const PYTHON = 'python3';

/**
 * Node script for LineChild: on "c <port>" it opens a TCP connection to 127.0.0.1:<port> and keeps it
 * (errors are printed, not fatal). Prints "ready" first.
 */
export const TCP_CONNECTOR = `
const net = require('net');
const socks = [];
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const [cmd, port] = l.split(' ');
  if (cmd !== 'c') return;
  const s = net.connect(+port, '127.0.0.1');
  s.on('error', (e) => console.log('error ' + e.code));
  socks.push(s);
});
console.log('ready');`;

/** IDs of loaded BPF programs with one of `names` (bpftool): compare before/after a run to find leaks. */
export function bpfProgIds(names: string[]): Set<number> {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return new Set();
  return new Set((JSON.parse(r.stdout || '[]') as { id: number; name?: string }[]).filter((p) => names.includes(p.name ?? '')).map((p) => p.id));
}

/**
 * Wait until no program of `names` that was not in `before` is loaded (freeing takes an RCU grace period).
 * Programs a live process holds are not leaks: other ig runs on the machine (other sessions' tests and benches)
 * load programs of the same names meanwhile; a program left behind by an exited run is held by nobody.
 */
export async function leakedPrograms(names: string[], before: Set<number>, timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fresh = [...bpfProgIds(names)].filter((id) => !before.has(id));
    const held = fresh.length ? heldProgramIds() : new Set<number>();
    const leaked = fresh.filter((id) => !held.has(id));
    if (leaked.length === 0 || Date.now() > deadline) return leaked;
    await new Promise((r) => setTimeout(r, 50));
  }
}
