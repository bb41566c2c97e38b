import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedInventory, sharedPods } from './shared.js';
import type { KubeInventory, KubeLog, PodSource } from '../operators/common/pod-source.js';

/** A source that counts its starts and stops and lets the test fire its listeners. */
class CountingSource {
  starts = 0;
  stops = 0;
  readonly listeners = new Set<() => void>();
  readonly node = 'n1';
  constructor(readonly id: number) {}
  async start(_log: KubeLog): Promise<void> { this.starts++; }
  async stop(): Promise<void> { this.stops++; }
  onChange(cb: () => void): () => void { this.listeners.add(cb); return () => this.listeners.delete(cb); }
  byUid(): undefined { return undefined; }
  byName(): undefined { return undefined; }
  list(): [] { return []; }
  podByIp(): undefined { return undefined; }
  podByName(): undefined { return undefined; }
  serviceByIp(): undefined { return undefined; }
  fire(): void { for (const l of this.listeners) l(); }
}

const log: KubeLog = { warn: () => undefined, debug: () => undefined };

for (const [what, factory] of [
  ['pod source', (make: () => CountingSource) => sharedPods(make as unknown as () => PodSource)],
  ['inventory', (make: () => CountingSource) => sharedInventory(make as unknown as () => KubeInventory)],
] as const) {
  test(`shared ${what}: started by the first handle, stopped by the last, each handle's listeners go with it; a new source after that`, async () => {
    const made: CountingSource[] = [];
    const handle = factory(() => { const s = new CountingSource(made.length); made.push(s); return s; });
    const a = handle();
    const b = handle();
    await a.start(log);
    await b.start(log);
    assert.equal(made.length, 1, 'one source for both handles');
    assert.equal(made[0]!.starts, 1);
    let heardA = 0;
    let heardB = 0;
    a.onChange(() => { heardA++; });
    b.onChange(() => { heardB++; });
    made[0]!.fire();
    assert.deepEqual([heardA, heardB], [1, 1]);
    await a.stop();
    assert.equal(made[0]!.stops, 0, 'b still uses it');
    made[0]!.fire();
    assert.deepEqual([heardA, heardB], [1, 2], 'a stopped: its listener is gone');
    await a.stop(); // a second stop of the same handle releases nothing more
    assert.equal(made[0]!.stops, 0);
    await b.stop();
    assert.equal(made[0]!.stops, 1, 'the last handle stopped the source');
    assert.equal(made[0]!.listeners.size, 0);
    const c = handle();
    await c.start(log);
    assert.equal(made.length, 2, 'a new source after the last stop');
    await c.stop();
    assert.equal(made[1]!.stops, 1);
  });
}
