// Minimized kernel BTF per eBPF object, kept by the daemon between runs: libbpf reads the types CO-RE relocations
// need from a file of a few KiB (`bpftool gen min_core_btf`, upstream's btfgen) instead of parsing all of
// /sys/kernel/btf/vmlinux at every load, which was most of a warm run's start (≈200 of 250 ms for trace_open on a
// loaded machine). The file is made in the background after an object's first load, so the first run pays
// nothing extra; objects are told apart by the SHA-256 of their image. Without bpftool, or when it fails, loads
// read vmlinux as before.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setCoreBtfSource, type CoreBtfSource } from '../bpf/object.js';
import type { Logger } from '../gadget/logger.js';

const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';
/** Generation is one bpftool run per object; one that takes longer is abandoned (it parses vmlinux once). */
const GEN_TIMEOUT_MS = 30_000;

export class CoreBtfCache implements CoreBtfSource {
  private readonly dir: string;
  private readonly ready = new Map<string, string>();
  /** Being made, or failed (made again never: the object or this kernel does not suit it). */
  private readonly skip = new Set<string>();

  constructor(private readonly log?: Logger, private readonly bpftool = 'bpftool') {
    this.dir = mkdtempSync(join(tmpdir(), 'ig-daemon-btf-'));
  }

  /** Use it for every object this process opens from memory. */
  install(): this {
    setCoreBtfSource(this);
    return this;
  }

  lookup(elf: Buffer): string | undefined {
    if (!existsSync(VMLINUX_BTF)) return undefined;
    const key = createHash('sha256').update(elf).digest('hex');
    const path = this.ready.get(key);
    if (path) return path;
    if (!this.skip.has(key)) this.make(key, elf);
    return undefined;
  }

  failed(elf: Buffer): void {
    const key = createHash('sha256').update(elf).digest('hex');
    this.ready.delete(key);
    this.skip.add(key);
  }

  /** Files made so far (tests). */
  get size(): number { return this.ready.size; }

  private make(key: string, elf: Buffer): void {
    this.skip.add(key);
    const obj = join(this.dir, `${key}.o`);
    const out = join(this.dir, `${key}.btf`);
    writeFileSync(obj, elf);
    execFile(this.bpftool, ['gen', 'min_core_btf', VMLINUX_BTF, out, obj], { timeout: GEN_TIMEOUT_MS }, (err, _stdout, stderr) => {
      rmSync(obj, { force: true });
      if (err) {
        this.log?.debug(`minimized kernel BTF: ${this.bpftool} gen min_core_btf failed (${(stderr || err.message).trim().split('\n')[0]}); loads read ${VMLINUX_BTF}`);
        return;
      }
      this.ready.set(key, out);
      this.skip.delete(key);
    });
  }

  /** Remove the files (the daemon stops; the setting is dropped with them). */
  close(): void {
    setCoreBtfSource(undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
