// Inter-process store lock. We hold an flock(2) on `<store>/index.json.lock` (the same file upstream ig locks)
// through a small `flock` child process: flock(1) takes the lock and runs `cat`, which keeps it until we close
// its stdin. If this process dies the pipe closes, `cat` exits and the kernel drops the lock: no stale locks.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { OciError } from './errors.js';
import { TIED_EXEC_FAILED, tiedToThisProcess } from './tied-child.js';

export interface LockOptions {
  /** seconds to wait for the lock (default 60) */
  timeoutSeconds?: number;
}

export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const release = await acquire(lockFile, opts.timeoutSeconds ?? 60);
  try {
    return await fn();
  } finally {
    await release();
  }
}

function acquire(lockFile: string, timeout: number): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    let child: ChildProcessWithoutNullStreams;
    try {
      // tied: a SIGKILLed ig must not leave a flock waiting up to `timeout` for a lock nobody will use
      const [cmd, args] = tiedToThisProcess('flock', ['-x', '-w', String(timeout), lockFile, 'sh', '-c', 'echo locked; exec cat >/dev/null']);
      child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new OciError(`cannot lock ${lockFile}: ${(err as Error).message}`));
      return;
    }
    let out = '';
    let errText = '';
    let locked = false;
    const exited = new Promise<void>((res) => child.once('close', () => res()));
    child.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!locked && out.includes('locked')) {
        locked = true;
        resolve(async () => {
          child.stdin.end();
          await exited;
        });
      }
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (locked) return;
      const why = err.code === 'ENOENT' ? 'the flock command (util-linux) is not installed' : err.message;
      reject(new OciError(`cannot lock ${lockFile}: ${why}`));
    });
    child.once('close', (code: number | null) => {
      if (locked) return;
      if (code === 1 && !errText) reject(new OciError(`timed out after ${timeout}s waiting for the lock ${lockFile} (another ig is using the store)`));
      else if (TIED_EXEC_FAILED.has(code!)) reject(new OciError(`cannot lock ${lockFile}: the flock command (util-linux) is not installed`));
      else reject(new OciError(`cannot lock ${lockFile}: ${errText.trim() || `flock exited with ${code}`}`));
    });
  });
}
