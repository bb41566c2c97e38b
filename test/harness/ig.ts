// Run the real ig command as a child process and read what it prints: the harness gadget tests use.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync, statSync } from 'node:fs';

/** Repository root, found from this file in test/harness or dist/test/harness. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
}

// The commands as shipped: the bundle bin/ig and bin/gadgetctl run (scripts/bundle.mjs), unless it is older than
// the compiled modules (a `tsc` after the last setup), which then run instead.
const shipped = (bundle: string, ...compiled: string[]) => {
  const b = join(repoRoot(), 'dist', 'src', 'bundle', bundle);
  const c = join(repoRoot(), 'dist', 'src', 'cli', ...compiled);
  return existsSync(b) && statSync(b).mtimeMs >= statSync(c).mtimeMs ? b : c;
};
export const IG_MAIN = shipped('ig-start.cjs', 'main.js');
/** The compiled, unbundled modules: for tests that look at which of our modules a run loads. */
export const IG_MAIN_MODULES = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
export const GADGETCTL_MAIN = shipped('gadgetctl-start.cjs', 'gadgetctl', 'main.js');

export interface IgResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Run ig to completion (e.g. with --timeout) and collect its output. */
export function runIgSync(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): IgResult {
  // ig prints everything before exiting: a busy host can produce more than spawnSync's default 1 MiB in a second.
  const r = spawnSync(process.execPath, [IG_MAIN, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 60000, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...opts.env } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export class IgProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private exited: Promise<IgResult>;

  /**
   * `opts.prefix` runs ig through a command that execs it, e.g. ['nsenter', '--net=/run/netns/x'];
   * `opts.main` runs another entry point (GADGETCTL_MAIN); `opts.nodeArgs` go to node itself (e.g. --inspect).
   */
  constructor(args: string[], env?: NodeJS.ProcessEnv, opts: { prefix?: string[]; main?: string; nodeArgs?: string[] } = {}) {
    const argv = [...(opts.prefix ?? []), process.execPath, ...(opts.nodeArgs ?? []), opts.main ?? IG_MAIN, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })));
  }

  get pid(): number { return this.child.pid!; }

  /** Complete JSON lines printed so far (-o json). */
  events<T = Record<string, unknown>>(): T[] {
    const out: T[] = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.startsWith('{') && !line.startsWith('[')) continue;
      try { out.push(JSON.parse(line) as T); } catch { /* partial line */ }
    }
    return out;
  }

  /**
   * Poke (make the kernel activity) every `everyMs` until an event matches, so the test does not need to know
   * when the programs are attached. Fails with ig's stderr if ig exits or the time runs out.
   */
  async waitFor<T = Record<string, unknown>>(match: (e: T) => boolean, poke: () => void, opts: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
    const deadline = Date.now() + (opts.timeoutMs ?? 20000);
    let exited = false;
    void this.exited.then(() => { exited = true; });
    while (Date.now() < deadline) {
      const hit = this.events<T>().find(match);
      if (hit) return hit;
      if (exited) break;
      poke();
      await new Promise((r) => setTimeout(r, opts.everyMs ?? 250));
    }
    await this.stop();
    throw new Error(`no matching event ${exited ? '(ig exited)' : 'in time'}; ig stderr: ${this.stderr.trim() || '(empty)'}; stdout: ${this.stdout.slice(0, 400)}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<IgResult> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15000);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  wait(): Promise<IgResult> { return this.exited; }
}
