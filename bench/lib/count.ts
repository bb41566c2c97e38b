// Counting a tracer's output: event lines (lines holding a marker such as the load generator's comm) and
// "lost N events" notices, in one streaming pass over a possibly multi-GB file, without decoding event lines.
import { closeSync, openSync, readSync, readFileSync, existsSync } from 'node:fs';

export interface OutputCount {
  /** Lines containing the marker. */
  events: number;
  /** Sum of N over "lost N events" in lines without the marker. */
  lost: number;
  /** Lines without the marker (headers, notices), first 20 kept. */
  otherLines: string[];
  otherCount: number;
  bytes: number;
}

const LOST_RE = /\blost (\d+) (?:events|samples)/gi;

/** Sum of every "lost N events" in `text`. */
export function sumLost(text: string): number {
  let n = 0;
  for (const m of text.matchAll(LOST_RE)) n += Number(m[1]);
  return n;
}

export function countOutput(path: string, marker: string): OutputCount {
  const res: OutputCount = { events: 0, lost: 0, otherLines: [], otherCount: 0, bytes: 0 };
  if (!existsSync(path)) return res;
  const fd = openSync(path, 'r');
  const mark = Buffer.from(marker, 'latin1');
  const CHUNK = 4 << 20;
  let carry = Buffer.alloc(0);
  const chunk = Buffer.allocUnsafe(CHUNK);
  const other = (line: Buffer) => {
    const text = line.toString('latin1');
    if (text.trim() === '') return;
    res.otherCount++;
    if (res.otherLines.length < 20) res.otherLines.push(text.length > 200 ? `${text.slice(0, 200)}…` : text);
    res.lost += sumLost(text);
  };
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      res.bytes += n;
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let lineStart = 0;
      let nextMark = -2; // -2: not searched yet; -1: none left in this buffer
      for (;;) {
        const nl = buf.indexOf(10, lineStart);
        if (nl < 0) break;
        if (nextMark !== -1 && nextMark < lineStart) nextMark = buf.indexOf(mark, lineStart);
        if (nextMark >= 0 && nextMark < nl) res.events++;
        else other(buf.subarray(lineStart, nl));
        lineStart = nl + 1;
      }
      carry = Buffer.from(buf.subarray(lineStart));
    }
    if (carry.length > 0) {
      if (carry.indexOf(mark) >= 0) res.events++;
      else other(carry);
    }
  } finally {
    closeSync(fd);
  }
  return res;
}

/** Sum of "lost N events" in a small text file (a tracer's stderr). */
export function lostInFile(path: string): number {
  if (!existsSync(path)) return 0;
  return sumLost(readFileSync(path, 'latin1'));
}
