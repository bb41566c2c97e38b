// The store lock's flock child: a SIGKILLed ig waiting for the lock must not leave it waiting (up to a minute).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
/** Every descendant of `pid` (through /proc's children lists). */
function descendants(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* gone */ }
  return kids.flatMap((k) => [k, ...descendants(k)]);
}

test('a flock waiting for the store lock dies with its SIGKILLed ig', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-lock-'));
  const lockFile = join(dir, 'index.json.lock');
  // another holder keeps the lock for the whole test: one process (sh takes it on fd 9, then becomes sleep)
  const holder = spawn('sh', ['-c', `exec 9>'${lockFile}'; flock -x 9; exec sleep 60`], { stdio: 'ignore' });
  const lock = fileURLToPath(new URL('./lock.js', import.meta.url));
  const script = `import { withFileLock } from ${JSON.stringify(lock)};
    await withFileLock(${JSON.stringify(lockFile)}, async () => {}, { timeoutSeconds: 60 });`;
  const ig = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
  try {
    let waiting: number[] = [];
    for (let i = 0; i < 100 && !waiting.length; i++) {
      await sleep(50);
      waiting = descendants(ig.pid!);
    }
    assert.ok(waiting.length, 'ig started no flock');
    await sleep(200); // flock is waiting on the lock now, not still starting
    const exited = new Promise((r) => ig.once('exit', r));
    ig.kill('SIGKILL');
    await exited;
    for (let i = 0; i < 50 && waiting.some(alive); i++) await sleep(50);
    assert.deepEqual(waiting.filter(alive), [], 'the waiting flock survived its ig');
  } finally {
    ig.kill('SIGKILL');
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
