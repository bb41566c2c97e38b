// Clocks the kernel stamps records with.
import { native } from './native.js';

/** CLOCK_BOOTTIME in ns (what bpf_ktime_get_boot_ns returns). */
export function boottimeNs(): bigint {
  return native.clockBoottimeNs();
}
