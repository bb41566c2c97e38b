// The V8 inspector of a node process the test started with `--inspect=127.0.0.1:0` (its own port, loopback only):
// to collect garbage and read the heap from outside, so memory is measured after a full GC rather than at whatever
// point V8's collector had reached (RSS and heap sizes between collections vary by tens of MB on a busy machine).
import WebSocket from 'ws';

export class Inspector {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
      const p = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!p) return; // an event of a domain we did not enable, or nothing to answer
      this.pending.delete(m.id!);
      if (m.error) p.reject(new Error(m.error.message)); else p.resolve(m.result);
    });
    ws.on('close', () => { for (const p of this.pending.values()) p.reject(new Error('inspector closed')); this.pending.clear(); });
  }

  /** Connect to the process whose stderr so far holds node's "Debugger listening on ws://…" line. */
  static async connect(stderr: () => string, timeoutMs = 20000): Promise<Inspector> {
    const deadline = Date.now() + timeoutMs;
    let url: string | undefined;
    while (!(url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr())?.[1])) {
      if (Date.now() > deadline) throw new Error(`no inspector URL in the process's stderr: ${stderr().slice(-400)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return new Inspector(ws);
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A full, compacting GC (HeapProfiler.collectGarbage), then the process's process.memoryUsage(). */
  async memoryAfterGc(): Promise<NodeJS.MemoryUsage> {
    await this.call('HeapProfiler.collectGarbage');
    const r = await this.call<{ result: { value: string } }>('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    return JSON.parse(r.result.value) as NodeJS.MemoryUsage;
  }

  /** After a full GC: used bytes per V8 heap space (old_space, code_space, ...). */
  async spacesAfterGc(): Promise<Record<string, number>> {
    await this.call('HeapProfiler.collectGarbage');
    const r = await this.call<{ result: { value: string } }>('Runtime.evaluate', { expression: "JSON.stringify(Object.fromEntries(process.getBuiltinModule('v8').getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size])))", returnByValue: true });
    return JSON.parse(r.result.value) as Record<string, number>;
  }

  close(): void { this.ws.close(); }
}
