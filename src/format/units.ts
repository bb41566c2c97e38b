// Sizes (gadget_bytes) and durations (gadget_duration) for people.

/** Decimal units as upstream: 999 B, 1.5 kB, 12 MB. */
export function humanBytes(v: number): string {
  if (v < 1000) return `${v} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let x = v;
  let u = -1;
  while (x >= 1000 && u < units.length - 1) { x /= 1000; u++; }
  return `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[u]}`;
}

/** Nanoseconds as a Go-style duration string: 850ns, 12.34µs, 1.2ms, 1.5s, 2m3s. */
export function humanDuration(ns: number): string {
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  const s = ns / 1e9;
  if (s < 60) return `${trim(s)}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s - h * 3600 - m * 60;
  return `${h ? `${h}h` : ''}${m}m${trim(rest)}s`;
}

function trim(x: number): string {
  return String(Number(x.toFixed(x < 10 ? 3 : x < 100 ? 2 : 1)));
}
