// Shared helpers for the OCI tests: temp dirs, the test gadget, and running the CLI as a child process.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** repository root (this file runs from dist/test/oci) */
export const ROOT = path.resolve(here, '..', '..', '..');
export const TESTDATA = path.join(ROOT, 'test', 'oci', 'testdata');
export const CLI = path.join(here, 'cli-entry.js');

const cleanups: string[] = [];

export function tmpDir(prefix = 'ig-oci-test-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(d);
  return d;
}

export function cleanupTmp(): void {
  for (const d of cleanups.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** include/gadget/amd64/vmlinux.h is generated, not committed: make it if missing. */
export function ensureVmlinux(): void {
  const p = path.join(ROOT, 'include', 'gadget', 'amd64', 'vmlinux.h');
  if (existsSync(p)) return;
  mkdirSync(path.dirname(p), { recursive: true });
  const out = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 64 << 20 });
  writeFileSync(p, out);
}

/** A private copy of the test gadget directory (tests may edit gadget.yaml). */
export function gadgetCopy(name = 'mini'): string {
  const d = path.join(tmpDir(), name);
  cpSync(path.join(TESTDATA, name), d, { recursive: true });
  return d;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the test CLI (image + login commands) asynchronously, so in-process servers keep answering. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

export function haveTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The only stderr line of a failed command; asserts there is exactly one and no stack trace. */
export function oneErrorLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const errs = lines.filter((l) => l.startsWith('Error: '));
  if (errs.length !== 1 || /\n\s+at /.test(r.stderr)) {
    throw new Error(`expected exactly one "Error:" line and no stack, got:\n${r.stderr}`);
  }
  return errs[0];
}

/** ECDSA P-256 key pair as PEM files. */
export function makeKeyPair(dir: string, name: string): { priv: string; pub: string } {
  const priv = path.join(dir, `${name}.key`);
  const pub = path.join(dir, `${name}.pub`);
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', priv], { stdio: 'ignore' });
  execFileSync('openssl', ['ec', '-in', priv, '-pubout', '-out', pub], { stdio: 'ignore' });
  return { priv, pub };
}
