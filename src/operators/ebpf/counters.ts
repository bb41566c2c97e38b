// Lost-sample counters: a per-CPU u64 map with one entry that the BPF side increments (`<ring>_lost_samples`).
import type { BpfMap } from '../../bpf/map.js';

const ZERO_KEY = Buffer.alloc(4);

/** Sum of a per-CPU u64 counter map's single entry. */
export function readPerCpuCounter(map: BpfMap): bigint {
  const v = map.lookup(ZERO_KEY);
  if (!v) return 0n;
  let sum = 0n;
  for (let o = 0; o + 8 <= v.length; o += 8) sum += v.readBigUInt64LE(o);
  return sum;
}
