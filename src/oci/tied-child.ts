// Helper processes that must not outlive ig even when it is SIGKILLed, when no exit or signal handler runs: the
// bpftool that minimizes kernel BTF in the background (it ran on for seconds after a killed `ig run`), the flock
// that waits up to a minute for the store lock, the compilers of `ig image build`. They start through util-linux's
// setpriv with PR_SET_PDEATHSIG, so the kernel kills them when the thread that spawned them ends; node spawns from
// its main thread, whose end is the process's. Without setpriv they start as before (the exit and signal handlers
// still stop them).
import { findTool } from '../bpf/toolchain.js';

/** setpriv's exit statuses when it cannot exec the command (util-linux: EX_EXEC_FAILED, EX_EXEC_ENOENT). */
export const TIED_EXEC_FAILED = new Set([126, 127]);

let setpriv: string | null | undefined;

/** The command and arguments that run `cmd` so it is killed when this process dies. */
export function tiedToThisProcess(cmd: string, args: readonly string[]): [string, string[]] {
  if (setpriv === undefined) setpriv = findTool(['setpriv']) ?? null;
  return setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, [...args]];
}
