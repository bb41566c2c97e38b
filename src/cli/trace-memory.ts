// IG_TRACE_MEMORY=1: sample the process's own memory figures every 50 ms and print, at exit, those of the sample
// with the largest resident set (one JSON line on stderr, "memory: {…}"). The benchmarks read it beside
// /proc/PID/smaps to tell V8's heap (by space), external memory (the reader's batches) and the rest apart.
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const MiB = 1024 * 1024;
const mib = (n: number) => Math.round((n / MiB) * 10) / 10;

interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Committed (physical) size of each V8 space, MiB. */
  spaces: Record<string, number>;
  mallocedMemory: number;
  peakMallocedMemory: number;
  atMs: number;
}

export function traceMemory(): void {
  if (!process.env.IG_TRACE_MEMORY) return;
  let peak: MemorySample | undefined;
  let samples = 0;
  const sample = () => {
    samples++;
    const rss = process.memoryUsage.rss();
    if (peak && rss <= peak.rss * MiB) return;
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    const spaces: Record<string, number> = {};
    for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = mib(s.physical_space_size);
    peak = {
      rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external),
      arrayBuffers: mib(m.arrayBuffers), spaces, mallocedMemory: mib(h.malloced_memory),
      peakMallocedMemory: mib(h.peak_malloced_memory), atMs: Math.round(performance.now()),
    };
  };
  sample();
  setInterval(sample, 50).unref();
  process.on('exit', () => {
    sample();
    process.stderr.write(`memory: ${JSON.stringify({ samples, peakMiB: peak })}\n`);
  });
}
