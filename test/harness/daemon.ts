// A real `ig daemon` on a socket in a temp dir owned by the test, and gadgetctl runs against it. Stopped by PID.
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, copyFileSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IgProcess, GADGETCTL_MAIN, type IgResult } from './ig.js';

export class DaemonHarness {
  readonly dir: string;
  readonly socket: string;
  readonly instancesDir: string;
  proc?: IgProcess;

  constructor(name = 'daemon') {
    this.dir = mkdtempSync(join(tmpdir(), `ig-${name}-`));
    this.socket = join(this.dir, 'ig.sock');
    this.instancesDir = join(this.dir, 'gadgets');
  }

  get address(): string { return `unix://${this.socket}`; }

  /**
   * Start `ig daemon` and wait until it answers; extra flags replace -H when they give one. `opts.nodeArgs` go to
   * node (e.g. `--inspect=127.0.0.1:0` for test/harness/inspector.ts).
   */
  async start(extra: string[] = [], opts: { address?: string; nodeArgs?: string[] } = {}): Promise<IgProcess> {
    const host = extra.includes('-H') || extra.includes('--host') ? [] : ['-H', this.address];
    this.proc = new IgProcess(['daemon', ...host, '--instances-dir', this.instancesDir, ...extra], undefined, { nodeArgs: opts.nodeArgs });
    const deadline = Date.now() + 20000;
    for (;;) {
      if (this.proc.child.exitCode !== null) throw new Error(`ig daemon exited: ${this.proc.stderr}`);
      if (/serving on/.test(this.proc.stderr) && (opts.address || existsSync(this.socket) || !host.length)) break;
      if (Date.now() > deadline) { await this.proc.stop('SIGKILL'); throw new Error(`ig daemon did not start: ${this.proc.stderr}`); }
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.proc;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<IgResult | undefined> {
    const r = await this.proc?.stop(signal);
    this.proc = undefined;
    return r;
  }

  /** gadgetctl with --remote-address of this daemon, to completion. */
  ctl(args: string[], opts: { timeoutMs?: number; address?: string; uid?: number; gid?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): IgResult {
    const r = spawnSync(process.execPath, [GADGETCTL_MAIN, ...args, '--remote-address', opts.address ?? this.address], {
      encoding: 'utf8', timeout: opts.timeoutMs ?? 60000, maxBuffer: 256 * 1024 * 1024, uid: opts.uid, gid: opts.gid, input: opts.input, env: opts.env,
    });
    return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  /** A gadgetctl that keeps running (run, attach), read like an ig process. */
  ctlProcess(args: string[], address = this.address): IgProcess {
    return new IgProcess([...args, '--remote-address', address], undefined, { main: GADGETCTL_MAIN });
  }

  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** IDs of the BPF programs process `pid` holds open (its fds): the kernel objects that process owns. */
export function ownedProgIds(pid: number): number[] {
  const ids: number[] = [];
  let fds: string[] = [];
  try { fds = readdirSync(`/proc/${pid}/fdinfo`); } catch { return ids; } // process gone: owns nothing
  for (const fd of fds) {
    let info = '';
    try { info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'); } catch { continue; } // fd closed meanwhile
    const m = /^prog_id:\s*(\d+)/m.exec(info);
    if (m) ids.push(Number(m[1]));
  }
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Whether any of these program IDs is still loaded in the kernel. */
export function stillLoaded(ids: number[]): number[] {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return [];
  const loaded = new Set((JSON.parse(r.stdout || '[]') as { id: number }[]).map((p) => p.id));
  return ids.filter((id) => loaded.has(id));
}

export async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Make open() calls from a process named cat. */
export function poke(): void {
  spawnSync('cat', ['/etc/hostname'], { stdio: 'ignore' });
}

/**
 * A cat the test owns: a copy of /bin/cat under a name of its own (`comm`, at most 15 characters) that opens a file
 * of its own. With the gadget filtering on `comm`, the machine's other cats (other tests, other ig users) neither
 * crowd the stream nor match: an event counts only if its pid is one this object spawned and it opened `file`.
 */
export class OwnCat {
  readonly bin: string;
  readonly file: string;
  readonly pids = new Set<number>();

  constructor(dir: string, readonly comm: string) {
    if (comm.length > 15) throw new Error(`comm ${comm} is longer than the kernel's 15 characters`);
    this.bin = join(dir, comm);
    copyFileSync('/bin/cat', this.bin);
    chmodSync(this.bin, 0o755);
    this.file = join(dir, `${comm}.opened`);
    writeFileSync(this.file, 'x');
  }

  poke(): void {
    const r = spawnSync(this.bin, [this.file], { stdio: 'ignore' });
    if (r.pid) this.pids.add(r.pid);
  }

  /** Whether an event with this pid and fname is one of this cat's opens of its file. */
  owns(pid: unknown, fname: unknown): boolean {
    return typeof pid === 'number' && this.pids.has(pid) && fname === this.file;
  }
}
