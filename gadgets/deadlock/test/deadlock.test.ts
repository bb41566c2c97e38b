// deadlock: a program whose two threads take mutexes A and B in opposite orders (one after the other, so it
// never actually deadlocks); the eBPF side reports the lock-order edges, the WASM module finds the A/B cycle
// and reports it once, for that process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { compileC, tempDir } from '../../../test/harness/workload.js';

const SRC = `
#include <pthread.h>
#include <stdio.h>
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER, c = PTHREAD_MUTEX_INITIALIZER;
static void *ab(void *x) { pthread_mutex_lock(&a); pthread_mutex_lock(&b); pthread_mutex_unlock(&b); pthread_mutex_unlock(&a); return x; }
static void *ba(void *x) { pthread_mutex_lock(&b); pthread_mutex_lock(&a); pthread_mutex_unlock(&a); pthread_mutex_unlock(&b); return x; }
/* c is always taken after a: an order, but no cycle. */
static void *ac(void *x) { pthread_mutex_lock(&a); pthread_mutex_lock(&c); pthread_mutex_unlock(&c); pthread_mutex_unlock(&a); return x; }
int main(void) {
  pthread_t t;
  pthread_create(&t, 0, ac, 0); pthread_join(t, 0);
  pthread_create(&t, 0, ab, 0); pthread_join(t, 0);
  pthread_create(&t, 0, ba, 0); pthread_join(t, 0);
  printf("%p %p %p\\n", (void *)&a, (void *)&b, (void *)&c);
  return 0;
}`;

interface Deadlock { pid: number; comm: string; mutexes: string; length: number }

test('a lock-order inversion between two mutexes is reported once, naming both', async () => {
  const tmp = tempDir('ig-deadlock-');
  const bin = compileC(tmp.dir, 'igdl_inv', SRC, ['-pthread']);
  const ig = new IgProcess(['run', 'deadlock', '--host', '-o', 'json', '--comm', 'igdl_inv']);
  try {
    const runs: { pid: number; addrs: string[] }[] = [];
    const poke = () => {
      const r = spawnSync(bin, [], { encoding: 'utf8' });
      runs.push({ pid: r.pid!, addrs: r.stdout.trim().split(' ').map((x) => BigInt(x).toString(16)) });
    };
    const e = await ig.waitFor<Deadlock>((x) => typeof x.mutexes === 'string', poke, { timeoutMs: 30000 });
    const run = runs.find((r) => r.pid === e.pid);
    assert.ok(run, `deadlock reported for pid ${e.pid}, one of ours: ${runs.map((r) => r.pid).join(',')}`);
    assert.equal(e.comm, 'igdl_inv');
    assert.equal(e.length, 2);
    const [a, b, c] = run.addrs;
    // The cycle in lock order: a -> b -> a, or b -> a -> b (whichever edge closed it).
    assert.ok(e.mutexes === `0x${b} -> 0x${a} -> 0x${b}` || e.mutexes === `0x${a} -> 0x${b} -> 0x${a}`, e.mutexes);
    assert.ok(!e.mutexes.includes(`0x${c}`), 'a -> c is an order, not a cycle');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(ig.events<Deadlock>().filter((x) => x.pid === e.pid).length, 1, 'each cycle once');
  } finally {
    const r = await ig.stop();
    tmp.cleanup();
    assert.equal(r.code, 0, r.stderr);
  }
});
