// One shared once-a-second clock for ig's periodic checks (a tracer's lost-event counters, container liveness, a
// render consumer's output check). Each used to own a 1 s interval; armed a few ms apart they woke the JS thread
// once each, ~3-4 times a second for the whole run (≈ 4 ms of CPU a second under an exec storm's load). Joined
// here they share one wake-up a second, and no timer exists while no check is registered.
//
// A job that must keep the process alive (ref: true, as its own interval did) keeps the shared timer ref'd; the
// others leave it unref'd, as theirs were.

/** A check run once a second. */
export type SecondJob = () => void;

interface Entry { job: SecondJob; ref: boolean }

const TICK_MS = 1000;
const jobs = new Set<Entry>();
let timer: NodeJS.Timeout | undefined;
const counts = { timersArmed: 0, ticks: 0 };

function anyRef(): boolean {
  for (const e of jobs) if (e.ref) return true;
  return false;
}

/** Run every job once; one job's exception does not skip the others (the first is rethrown afterwards). */
function tick(): void {
  counts.ticks++;
  let failed: { e: unknown } | undefined;
  for (const e of [...jobs]) {
    if (!jobs.has(e)) continue; // left during this tick
    try { e.job(); } catch (err) { failed ??= { e: err }; }
  }
  if (failed) throw failed.e;
}

function syncTimer(): void {
  if (jobs.size === 0) {
    if (timer) clearInterval(timer);
    timer = undefined;
    return;
  }
  if (!timer) {
    timer = setInterval(tick, TICK_MS);
    counts.timersArmed++;
  }
  if (anyRef()) timer.ref();
  else timer.unref();
}

/**
 * Run `job` once a second on the shared tick until the returned function is called (idempotent). `ref`: the tick
 * keeps the process alive while this job is registered.
 */
export function everySecond(job: SecondJob, opts: { ref?: boolean } = {}): () => void {
  const e: Entry = { job, ref: opts.ref === true };
  jobs.add(e);
  syncTimer();
  return () => {
    if (!jobs.delete(e)) return;
    syncTimer();
  };
}

/** For tests: how many jobs are registered, whether the timer exists and keeps the process alive, its counters. */
export function secondTickState(): { jobs: number; armed: boolean; ref: boolean; timersArmed: number; ticks: number } {
  return { jobs: jobs.size, armed: timer !== undefined, ref: timer?.hasRef() ?? false, ...counts };
}

/** For tests: run the jobs now, as the timer would (asserting what a tick does, not when). */
export function runSecondTickNow(): void {
  tick();
}
