// The messages of a run that no client could hear (start-up, or a headless instance between clients), replayed to
// every client that attaches. Bounded: a headless instance can run for days and warn every interval (e.g. "lost N
// events"), so only the first `first` (start-up: why the run looks the way it does) and the last `last` (what is
// happening now) are kept, with a count of those dropped in between, told to the client in their place.
import { LogLevel } from './consts.js';

export interface LogMessage { level: number; msg: string }

export class EarlyLog {
  private readonly head: LogMessage[] = [];
  /** Ring of the last `last` messages after the head; `next` is where the oldest one is (once full). */
  private readonly tail: LogMessage[] = [];
  private next = 0;
  private droppedCount = 0;

  constructor(readonly first = 32, readonly last = 200) {}

  get dropped(): number { return this.droppedCount; }

  push(m: LogMessage): void {
    if (this.head.length < this.first) { this.head.push(m); return; }
    if (this.last <= 0) { this.droppedCount++; return; }
    if (this.tail.length < this.last) { this.tail.push(m); return; }
    this.tail[this.next] = m;
    this.next = (this.next + 1) % this.last;
    this.droppedCount++;
  }

  /** The kept messages in order, with one warning standing for the dropped ones where they were. */
  messages(): LogMessage[] {
    const tail = [...this.tail.slice(this.next), ...this.tail.slice(0, this.next)];
    const gap: LogMessage[] = this.droppedCount > 0
      ? [{ level: LogLevel.Warn, msg: `${this.droppedCount} messages of this instance were dropped while no client was attached (the first ${this.first} and the last ${this.last} are kept)` }]
      : [];
    return [...this.head, ...gap, ...tail];
  }
}
