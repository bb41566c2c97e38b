// The deadline for a module's data callbacks without a per-batch cost. Guarding every batch with node:vm's
// timeout starts a watchdog thread per call (~50 µs of CPU; at 50 records per batch that is ~1 µs per event).
// Here one worker thread, started once per process, watches a shared slot per guest: the guest's callback loop
// stores its start time before and 0 after (two atomic stores per batch). A guest that stays inside past its
// deadline cannot be interrupted from another thread without corrupting Node's state, so the watchdog writes the
// one-line error to stderr and kills the process: the kernel then closes every fd, which detaches every program,
// link and perf event ig made (nothing of ig's is pinned), and nothing hangs. Lifecycle calls (gadgetInit, ...)
// keep the recoverable node:vm deadline, which ends the run in order.
import { Worker } from 'node:worker_threads';

const SLOTS = 64;

const WORKER_SRC = `
const { workerData, parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const st = new Int32Array(workerData);
const who = new Map();
parentPort.on('message', (m) => { if (m.who === null) who.delete(m.slot); else who.set(m.slot, m); });
setInterval(() => {
  const now = Date.now() & 0x3fffffff;
  for (const [slot, m] of who) {
    const since = Atomics.load(st, slot);
    if (since === 0) continue;
    let took = now - since;
    if (took < 0) took += 0x40000000;
    if (took <= m.timeoutMs) continue;
    writeSync(2, 'Error: ' + m.who + ': ' + m.what + ' did not return within ' + m.timeoutMs + ' ms; ig was stopped (--wasm-timeout)\\n');
    process.kill(process.pid, 'SIGKILL');
  }
}, ${10});
`;

let shared: Int32Array | undefined;
let worker: Worker | undefined;
const used = new Set<number>();

/** A slot to mark "inside the guest since" for one guest; release() when the guest is done. */
export class DeadlineSlot {
  private constructor(private readonly st: Int32Array, readonly slot: number) {}

  static open(who: string, what: string, timeoutMs: number): DeadlineSlot | undefined {
    if (!worker) {
      shared = new Int32Array(new SharedArrayBuffer(4 * SLOTS));
      worker = new Worker(WORKER_SRC, { eval: true, workerData: shared.buffer });
      worker.unref();
    }
    let slot = 0;
    while (slot < SLOTS && used.has(slot)) slot++;
    if (slot === SLOTS) return undefined;
    used.add(slot);
    worker.postMessage({ slot, who, what, timeoutMs });
    return new DeadlineSlot(shared!, slot);
  }

  enter(): void {
    Atomics.store(this.st, this.slot, (Date.now() & 0x3fffffff) || 1);
  }

  leave(): void {
    Atomics.store(this.st, this.slot, 0);
  }

  release(): void {
    this.leave();
    used.delete(this.slot);
    worker?.postMessage({ slot: this.slot, who: null });
  }
}
