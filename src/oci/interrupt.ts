// What SIGINT/SIGTERM must undo while a store write or a build is in progress: ingest files, a build's temporary
// folder, a running compiler. Handlers are installed only while something is tracked, so commands without such
// work keep Node's default signal behaviour.
//
// On a signal the tracked work is undone synchronously; when no other handler is listening (`ig image ...`), the
// signal is then re-raised so the process still ends the way it would have (exit status 128+n). When another
// handler listens (`ig run` pulling its image), that handler decides how the process stops.

import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const files = new Set<string>();
const dirs = new Set<string>();
const children = new Set<ChildProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let installed = false;

function undoAll(): void {
  for (const c of children) {
    // SIGKILL: a compiler has nothing to flush, and it must not outlive the folder it writes into
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  children.clear();
  try {
    for (const f of files) rmSync(f, { force: true });
    // retries: a compiler killed a moment ago may still have created a file in the folder
    for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  } catch (err) {
    process.stderr.write(`warning: cleaning up after the interruption failed: ${(err as Error).message}\n`);
  }
  files.clear();
  dirs.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  undoAll();
  const alone = process.listenerCount(sig) === 1;
  uninstall();
  if (alone) process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.off(s, onSignal);
}

function settle(): void {
  if (!files.size && !dirs.size && !children.size) uninstall();
}

function track<T>(set: Set<T>, v: T): () => void {
  set.add(v);
  install();
  return () => {
    set.delete(v);
    settle();
  };
}

/** Remove `file` if the process is interrupted; call the returned function once the file is committed or gone. */
export const removeOnInterrupt = (file: string): (() => void) => track(files, file);
/** Remove the directory tree `dir` if the process is interrupted. */
export const removeDirOnInterrupt = (dir: string): (() => void) => track(dirs, dir);
/** Kill `child` if the process is interrupted (it is forgotten by itself when it exits). */
export function killOnInterrupt(child: ChildProcess): () => void {
  const untrack = track(children, child);
  child.once('exit', untrack);
  return untrack;
}
