// deadlock: a program whose two threads take mutexes A and B in opposite orders (one after the other, so it
// never actually deadlocks); the eBPF side reports the lock-order edges with the user stacks of both lock calls,
// the WASM module finds the A/B cycle and reports it once, for that process, with upstream's fields (nodes,
// stack_ids) and the symbolised stacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { compileC, tempDir } from '../../../test/harness/workload.js';

const SRC = `
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER, c = PTHREAD_MUTEX_INITIALIZER;
/* The uprobe fires at pthread_mutex_lock's entry, before it saves a frame pointer: the frame-pointer walk
 * starts at the caller's caller. take() makes the function that wants the lock that caller's caller. */
__attribute__((noinline)) static void take(pthread_mutex_t *m) { pthread_mutex_lock(m); }
static void *lock_ab(void *x) { take(&a); take(&b); pthread_mutex_unlock(&b); pthread_mutex_unlock(&a); return x; }
static void *lock_ba(void *x) { take(&b); take(&a); pthread_mutex_unlock(&a); pthread_mutex_unlock(&b); return x; }
/* c is always taken after a: an order, but no cycle. */
static void *lock_ac(void *x) { take(&a); take(&c); pthread_mutex_unlock(&c); pthread_mutex_unlock(&a); return x; }
int main(void) {
  pthread_t t;
  pthread_create(&t, 0, lock_ac, 0); pthread_join(t, 0);
  pthread_create(&t, 0, lock_ab, 0); pthread_join(t, 0);
  pthread_create(&t, 0, lock_ba, 0); pthread_join(t, 0);
  printf("%p %p %p\\n", (void *)&a, (void *)&b, (void *)&c);
  fflush(stdout);
  /* alive while ig symbolises the stacks (from /proc/PID/maps, as for any user stack) */
  sleep(1);
  return 0;
}`;

interface Deadlock { pid: number; comm: string; mutexes: string; nodes: number; stack_ids: string; stacks: string }

test('a lock-order inversion between two mutexes is reported once, naming both, with the stacks of the lock calls', async () => {
  const tmp = tempDir('ig-deadlock-');
  const bin = compileC(tmp.dir, 'igdl_inv', SRC, ['-pthread', '-O0', '-fno-omit-frame-pointer']);
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
    assert.equal(e.nodes, 2);
    const [a, b, c] = run.addrs;
    // The cycle in lock order: a -> b -> a, or b -> a -> b (whichever edge closed it).
    assert.ok(e.mutexes === `0x${b} -> 0x${a} -> 0x${b}` || e.mutexes === `0x${a} -> 0x${b} -> 0x${a}`, e.mutexes);
    assert.ok(!e.mutexes.includes(`0x${c}`), 'a -> c is an order, not a cycle');
    // upstream's stack_ids: per edge [stack of the held mutex's lock, stack of the next lock]
    const ids = [...e.stack_ids.matchAll(/\[(\d+), (\d+)\]/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.equal(ids.length, 2, e.stack_ids);
    assert.match(e.stack_ids, /^\[\d+, \d+\], \[\d+, \d+\]$/);
    for (const [s1, s2] of ids) assert.ok(s1! < 0xffffffff && s2! < 0xffffffff && s1 !== s2, e.stack_ids);
    // Both acquisitions of both edges, symbolised: each edge's two locks were taken in one of the functions.
    const edges = e.stacks.split('|| ');
    assert.equal(edges.length, 2, e.stacks);
    for (const edge of edges) {
      const [held, locked] = edge.split('| ');
      assert.match(held!, /held at: \[0\]pthread_mutex_lock[^;]*; \[1\](lock_ab|lock_ba); /, edge);
      assert.match(locked!, /locked at: \[0\]pthread_mutex_lock[^;]*; \[1\](lock_ab|lock_ba); /, edge);
      // a lock-order edge: both locks were taken by the same function
      assert.equal(held!.match(/lock_a[b]|lock_ba/)![0], locked!.match(/lock_ab|lock_ba/)![0], edge);
    }
    assert.ok(/lock_ab/.test(e.stacks) && /lock_ba/.test(e.stacks), e.stacks);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(ig.events<Deadlock>().filter((x) => x.pid === e.pid).length, 1, 'each cycle once');
  } finally {
    const r = await ig.stop();
    tmp.cleanup();
    assert.equal(r.code, 0, r.stderr);
  }
});
