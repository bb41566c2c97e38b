// Timestamps (gadget_timestamp) as Go's RFC 3339 with nanoseconds in local time, as upstream prints them.
import { u64Mod1e9 } from './decimal.js';

/**
 * The same format from the raw u64 halves, without BigInt or a Date per event: the text up to the seconds is
 * cached per second, only the nanoseconds change between events of a burst.
 */
export class TimestampFormatter {
  private lastSec = -1;
  private prefix = '';
  private tz = '';

  format(hi: number, lo: number): string {
    const frac = u64Mod1e9(hi, lo);
    const sec = Math.round((hi * 4294967296 + lo - frac) / 1e9);
    if (sec !== this.lastSec) {
      const s = formatTimestampNs(BigInt(sec) * 1000000000n);
      this.prefix = s.slice(0, 20);        // 2006-01-02T15:04:05.
      this.tz = s.slice(29);               // Z or +hh:mm
      this.lastSec = sec;
    }
    return this.prefix + String(frac).padStart(9, '0') + this.tz;
  }
}

/** Go's RFC 3339 with nanoseconds: 2006-01-02T15:04:05.000000000Z07:00, in local time. */
export function formatTimestampNs(ns: bigint): string {
  const ms = Number(ns / 1000000n);
  const frac = (ns % 1000000000n).toString().padStart(9, '0');
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const tz = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${frac}${tz}`;
}
