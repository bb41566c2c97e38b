// Minimized kernel BTF per eBPF object, kept in the image store between runs, for `ig run` and the daemon alike:
// libbpf reads the types CO-RE relocations need from a file of a few KiB (`bpftool gen min_core_btf`, upstream's
// btfgen) instead of parsing all of /sys/kernel/btf/vmlinux at every load (≈200 of 250 ms of a warm trace_open
// start on a loaded machine). A load whose object has no file yet reads vmlinux as before and has bpftool make one
// beside it in the background; the next load of the same object on the same kernel uses it, in this process or a
// later one (a restarted daemon too). Files are named by the SHA-256 of the object and of the kernel's identity
// (release, version, size of its BTF), so another kernel or object never picks up a wrong one. A load that fails
// with a file is retried with vmlinux's BTF and the file is removed (made again by a later process: the failure may
// have had another cause, but not again by this one); an object bpftool cannot minimize is marked and not tried
// again.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release, version } from 'node:os';
import { join } from 'node:path';
import { setCoreBtfSource, type CoreBtfSource } from '../bpf/object.js';
import type { Logger } from '../gadget/logger.js';
import { defaultStorePath, processAlive } from '../oci/store.js';
import { TIED_EXEC_FAILED, tiedToThisProcess } from '../oci/tied-child.js';

const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';
/** A maker's object and output: `<key>.<pid>.o` and `<key>.<pid>.tmp`. */
const MAKER_FILE = /^[0-9a-f]{64}\.(\d+)\.(?:o|tmp)$/;


/**
 * The store's cache (`<store>/cache/core-btf`), installed for every object this process opens from memory; none
 * with IG_CORE_BTF=0 (benchmarks that measure loads from vmlinux).
 */
export function installStoreCoreBtf(log?: Logger, store = defaultStorePath()): StoreCoreBtf | undefined {
  if (process.env.IG_CORE_BTF === '0') return undefined;
  return new StoreCoreBtf(join(store, 'cache', 'core-btf'), log).install();
}

export class StoreCoreBtf implements CoreBtfSource {
  private readonly kernel: string | undefined;
  private readonly making = new Map<string, { child: ChildProcess; tmp: string[] }>();
  /** Objects a load failed with in this process: not made again by it (a long-lived daemon would loop). */
  private readonly failedHere = new Set<string>();
  private readonly onExit = () => this.abandon();

  constructor(private readonly dir: string, private readonly log?: Logger, private readonly bpftool = 'bpftool') {
    let size: number | undefined;
    try { size = statSync(VMLINUX_BTF).size; } catch { size = undefined; } // no kernel BTF: nothing to minimize
    this.kernel = size === undefined ? undefined : `${release()}\n${version()}\n${size}`;
  }

  /** Use it for every object this process opens from memory; a bpftool still running at exit is stopped. */
  install(): this {
    setCoreBtfSource(this);
    process.on('exit', this.onExit);
    return this;
  }

  private key(elf: Buffer): string {
    return createHash('sha256').update(elf).update('\0').update(this.kernel ?? '').digest('hex');
  }

  lookup(elf: Buffer): string | undefined {
    if (!this.kernel) return undefined;
    const key = this.key(elf);
    const path = join(this.dir, `${key}.btf`);
    if (this.failedHere.has(key)) return undefined;
    if (existsSync(path)) {
      this.log?.debug(`minimized kernel BTF: loading with ${path}`);
      return path;
    }
    if (!existsSync(join(this.dir, `${key}.bad`))) this.make(key, elf);
    return undefined;
  }

  failed(elf: Buffer): void {
    const key = this.key(elf);
    this.failedHere.add(key);
    this.log?.debug(`minimized kernel BTF ${key}: a load with it failed; removed`);
    try {
      rmSync(join(this.dir, `${key}.btf`), { force: true });
    } catch (e) {
      this.log?.debug(`minimized kernel BTF: cannot remove ${key}.btf: ${(e as Error).message}`);
    }
  }

  private make(key: string, elf: Buffer): void {
    if (this.making.has(key)) return;
    const obj = join(this.dir, `${key}.${process.pid}.o`);
    const tmp = join(this.dir, `${key}.${process.pid}.tmp`);
    try {
      mkdirSync(this.dir, { recursive: true });
      this.sweepKilledMakers();
      writeFileSync(obj, elf);
    } catch (e) {
      this.log?.debug(`minimized kernel BTF: cannot write to ${this.dir}: ${(e as Error).message}`);
      return;
    }
    // Tied to this process: a SIGKILLed ig runs no exit handler, and bpftool would go on for seconds.
    const [cmd, args] = tiedToThisProcess(this.bpftool, ['gen', 'min_core_btf', VMLINUX_BTF, tmp, obj]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => { err += d; });
    // It must not keep a finished run alive.
    child.unref();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    this.making.set(key, { child, tmp: [obj, tmp] });
    const done = (ok: boolean, why: string, bad: boolean) => {
      if (!this.making.has(key)) return; // 'error' and 'exit' may both come
      this.making.delete(key);
      rmSync(obj, { force: true });
      if (ok) {
        try { renameSync(tmp, join(this.dir, `${key}.btf`)); } catch (e) { this.log?.debug(`minimized kernel BTF: ${(e as Error).message}`); }
        return;
      }
      rmSync(tmp, { force: true });
      this.log?.debug(`minimized kernel BTF: ${this.bpftool} gen min_core_btf failed (${why}); loads read ${VMLINUX_BTF}`);
      // The object or this kernel does not suit it: do not try at every run.
      if (bad) try { writeFileSync(join(this.dir, `${key}.bad`), ''); } catch { /* the next run tries again */ }
    };
    // No bpftool (spawn's error, or setpriv's exec failure): nothing is marked, it may be installed later. It failed
    // on this object: not again.
    child.on('error', (e) => done(false, e.message, false));
    child.on('exit', (code, signal) => done(code === 0, signal ? `signal ${signal}` : (err.trim().split('\n')[0] || `exit ${code}`),
      code !== 0 && !signal && !TIED_EXEC_FAILED.has(code!)));
  }

  /** The files of makers whose process is gone (a killed ig runs no exit handler): else they stay forever. */
  private sweepKilledMakers(): void {
    for (const f of readdirSync(this.dir)) {
      const m = MAKER_FILE.exec(f);
      if (m && !processAlive(Number(m[1]))) rmSync(join(this.dir, f), { force: true });
    }
  }

  /** At exit: stop a bpftool still running and remove its files (the next run makes them again). */
  private abandon(): void {
    for (const { child, tmp } of this.making.values()) {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
      for (const f of tmp) rmSync(f, { force: true });
    }
    this.making.clear();
  }

  close(): void {
    setCoreBtfSource(undefined);
    process.off('exit', this.onExit);
    this.abandon();
  }
}
