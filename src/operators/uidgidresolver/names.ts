// uid/gid → name tables from the host's /etc/passwd and /etc/group, re-read when the file changes.
import { readFileSync, statSync } from 'node:fs';

// The clock the per-event checks compare against: Date.now() read once per turn of the event loop that looks names
// up (a batch's lookups share it), reset by an immediate at the end of that turn. (A 250 ms timeout did the reset
// before, and an interval before that: each woke the JS thread once more, under an exec storm once per memo refresh,
// ~1 a second, where the reader thread renders the lines and JS asks for a name once per refresh.)
let coarse = 0;
let coarseArmed = false;
function coarseNow(): number {
  if (!coarseArmed) {
    coarse = Date.now();
    coarseArmed = true;
    setImmediate(() => { coarseArmed = false; });
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
    // Called per event: compare against a clock read once per event-loop turn, not Date.now() each time.
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
