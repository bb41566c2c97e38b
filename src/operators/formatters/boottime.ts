// Offset from CLOCK_BOOTTIME (what bpf_ktime_get_boot_ns returns) to the wall clock, in ns.
import { boottimeNs } from '../../bpf/clock.js';

let offset: bigint | undefined;

export function bootToWallOffsetNs(): bigint {
  if (offset !== undefined) return offset;
  // Sample the wall clock around the boot clock read and take the midpoint to halve the error.
  const w0 = BigInt(Date.now()) * 1000000n;
  const boot = boottimeNs();
  const w1 = BigInt(Date.now()) * 1000000n;
  offset = (w0 + w1) / 2n - boot;
  return offset;
}
