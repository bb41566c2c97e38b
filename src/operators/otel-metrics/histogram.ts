// Log2 histograms as upstream Inspektor Gadget (and BCC's print_log2_hist) show them.
//
// Slot i of a `gadget_histogram_slot__*` array counts values v with floor(log2(v)) == i (slot 0 also v == 0),
// so its interval is [2^i, 2^(i+1) - 1], the first one [0, 1]. Intervals stop at the last non-empty slot.
//
//         µs               : count    distribution
//          0 -> 1          : 0        |                                        |
//          2 -> 3          : 4        |********************                    |
//          4 -> 7          : 8        |****************************************|
//
// JSON (upstream's histogram.Histogram): {"unit":"µs","intervals":[{"count":0,"start":0,"end":1},...]}.

export interface Interval { count: number; start: number; end: number }
export interface Histogram { unit?: string; intervals: Interval[] }

/** Intervals of log2 slots, up to the last non-zero one. */
export function intervalsFromLog2Slots(slots: ArrayLike<number>): Interval[] {
  let last = -1;
  for (let i = 0; i < slots.length; i++) if (slots[i]! > 0) last = i;
  const out: Interval[] = [];
  for (let i = 0; i <= last; i++) {
    const start = i === 0 ? 0 : 2 ** i;
    out.push({ count: slots[i]!, start, end: 2 ** (i + 1) - 1 });
  }
  return out;
}

/** Bar of `width` characters: `val * width / max` stars (integer division), spaces after. */
export function stars(val: number, max: number, width = 40): string {
  if (max <= 0) return ' '.repeat(width);
  const n = Math.min(width, Math.floor((val * width) / max));
  return '*'.repeat(n) + ' '.repeat(width - n);
}

/** Text of a histogram; empty when it has no interval. */
export function renderHistogram(h: Histogram): string {
  if (h.intervals.length === 0) return '';
  let max = 0;
  for (const iv of h.intervals) if (iv.count > max) max = iv.count;
  let s = `${' '.repeat(8)}${(h.unit ?? '').padEnd(16)} : count    distribution\n`;
  for (const iv of h.intervals) {
    s += `${String(iv.start).padStart(10)} -> ${String(iv.end).padEnd(10)} : ${String(iv.count).padEnd(8)} |${stars(iv.count, max)}|\n`;
  }
  return s;
}

/** JSON text in upstream's field order (count, start, end); "unit" is left out when empty. */
export function histogramJson(h: Histogram): string {
  const iv = h.intervals.map((i) => `{"count":${i.count},"start":${i.start},"end":${i.end}}`).join(',');
  return `{${h.unit ? `"unit":${JSON.stringify(h.unit)},` : ''}"intervals":[${iv}]}`;
}

/** Element-wise sum of slot arrays (accumulating drained map fetches). */
export function addSlots(into: number[], slots: ArrayLike<number | bigint>): void {
  for (let i = 0; i < slots.length; i++) into[i] = (into[i] ?? 0) + Number(slots[i]!);
}
