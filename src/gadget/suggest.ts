// "Did you mean": the closest names among those that exist, for typos in gadget, flag and field names.

/** Optimal string alignment distance (Levenshtein plus swapping two neighbours), bounded by `max`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates closest to `name` (the nearest ones, at most 3), when they are close enough to be a typo: up to a
 * third of the name's length in edits (at least 1, at most 3), or the name being a prefix/suffix of a few of them.
 */
export function closest(name: string, candidates: Iterable<string>): string[] {
  const lower = name.toLowerCase();
  const max = Math.min(3, Math.max(1, Math.floor(lower.length / 3)));
  const scored: { c: string; d: number }[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c) || c === name) continue;
    seen.add(c);
    // A field typed without its parents ("comm" for proc.comm) is measured against the last part too.
    const cl = c.toLowerCase();
    const tail = !lower.includes('.') && cl.includes('.') ? cl.slice(cl.lastIndexOf('.') + 1) : undefined;
    const d = Math.min(editDistance(lower, cl, max), tail !== undefined ? editDistance(lower, tail, max) : max + 1);
    if (d <= max) scored.push({ c, d });
  }
  if (scored.length === 0 && lower.length >= 3) {
    const part = [...seen].filter((c) => c.toLowerCase().startsWith(lower) || c.toLowerCase().endsWith(lower) || c.toLowerCase().endsWith(`.${lower}`));
    if (part.length > 0 && part.length <= 3) return part.sort();
  }
  // Only the nearest: "trace_opn" is trace_open, not also trace_dns three edits away.
  const best = Math.min(...scored.map((s) => s.d));
  return scored.filter((s) => s.d === best).sort((x, y) => x.c.localeCompare(y.c)).slice(0, 3).map((s) => s.c);
}

/** " (did you mean a or b?)", or '' when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>, format: (c: string) => string = (c) => c): string {
  const c = closest(name, candidates);
  if (c.length === 0) return '';
  const list = c.map(format);
  return ` (did you mean ${list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} or ${list.at(-1)}`}?)`;
}
