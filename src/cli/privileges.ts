// Running gadgets needs root or the capabilities eBPF tracing uses; say so before a memlock or registry error.
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;
export const NEEDED_CAPS: [string, bigint][] = [['CAP_BPF', CAP_BPF], ['CAP_PERFMON', CAP_PERFMON], ['CAP_SYS_ADMIN', CAP_SYS_ADMIN], ['CAP_NET_ADMIN', CAP_NET_ADMIN]];

/** Effective capabilities of this process (from /proc/self/status). */
export function effectiveCaps(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** The capabilities a run lacks (none for root with a full set). */
export function missingCaps(caps = effectiveCaps()): string[] {
  return NEEDED_CAPS.filter(([, bit]) => (caps & (1n << bit)) === 0n).map(([name]) => name);
}

export function requirePrivileges(): void {
  const missing = missingCaps();
  if (missing.length === 0) return;
  const who = process.geteuid?.() === 0 ? 'root but ' : '';
  throw new UsageError(`ig needs root (or CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN and CAP_NET_ADMIN); this process is ${who}without ${missing.join(', ')}: run it with sudo`);
}
