// uid/gid → name tables from the host's /etc/passwd and /etc/group, re-read when the file changes.
import { readFileSync, statSync } from 'node:fs';

// The clock the per-event checks compare against: Date.now() read at most once per 250 ms, and only while lookups
// happen: a timeout armed by the first lookup after it expired. (An interval advanced it 4 times a second for the
// rest of the run once any lookup had happened: 4 wake-ups of the JS thread per second of a run whose lines the
// reader thread renders, where JS asks for a user name once.)
const COARSE_MS = 250;
let coarse = 0;
let coarseArmed = false;
function coarseNow(): number {
  if (!coarseArmed) {
    coarse = Date.now();
    coarseArmed = true;
    setTimeout(() => { coarseArmed = false; }, COARSE_MS).unref();
  }
  return coarse;
}

/** Whether the coarse clock's timeout is pending (tests: it is not once lookups stop). */
export function coarseClockArmed(): boolean {
  return coarseArmed;
}

export class IdNames {
  private names = new Map<number, string>();
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(private readonly path: string, private readonly recheckMs = 1000) {}

  lookup(id: number): string {
    this.refresh();
    return this.names.get(id) ?? '';
  }

  /** Every id with a name, as the file says now (a recording notes them all at start). */
  ids(): number[] {
    this.refresh();
    return [...this.names.keys()];
  }

  private refresh(): void {
    // Called per event: compare against a coarse clock that a timer advances, not Date.now() each time.
    const now = coarseNow();
    if (now - this.checkedAt < this.recheckMs && this.mtimeMs >= 0) return;
    this.checkedAt = now;
    let m: number;
    try { m = statSync(this.path).mtimeMs; } catch { this.names.clear(); this.mtimeMs = 0; return; }
    if (m === this.mtimeMs) return;
    this.mtimeMs = m;
    const next = new Map<number, string>();
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      const parts = line.split(':');
      if (parts.length < 3 || line.startsWith('#')) continue;
      const id = Number(parts[2]);
      if (Number.isInteger(id) && !next.has(id)) next.set(id, parts[0]!);
    }
    this.names = next;
  }
}
