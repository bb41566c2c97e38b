// Once a run is streaming, ig's resident set sheds what only start-up needed (src/bpf/process-memory.ts):
//  - the clean pages of node's binary and the shared libraries: start-up ran code and read data (the bundle's
//    compile, V8's snapshot, the image and BTF parsers, libbpf's loader) that a streaming run does not use again.
//    These are page-cache pages shared with every other node process: RSS falls (≈20–35 MiB), PSS and USS barely
//    move, no memory is freed. What the run uses again refaults once (a minor fault per 64 KiB).
//  - the C heap's free pages (what libbpf freed after the load).
// IG_DROP_CLEAN_PAGES: code+rodata (default: executable and read-only file mappings), code (executable only), off.
import { dropCleanCodePages, trimMallocHeap } from '../bpf/process-memory.js';
import type { GadgetContext } from '../gadget/context.js';
import type { Logger } from '../gadget/logger.js';

export type ResidentSetMode = 'off' | 'code' | 'code+rodata';

/** Start-up's last page faults and the first batches come first: the drop waits this long after the start. */
const AFTER_START_MS = 200;

export function residentSetMode(env: NodeJS.ProcessEnv = process.env): ResidentSetMode {
  const v = env.IG_DROP_CLEAN_PAGES;
  if (v === undefined || v === '' || v === 'code+rodata') return 'code+rodata';
  if (v === 'code') return 'code';
  if (v === 'off' || v === '0') return 'off';
  throw new Error(`invalid value "${v}" for IG_DROP_CLEAN_PAGES: expected code+rodata, code or off`);
}

/** Shrink the resident set once, shortly after every operator of the run has started (not at all if it stops first). */
export function shrinkAfterStart(ctx: GadgetContext, log: Logger, mode = residentSetMode()): void {
  if (mode === 'off') return;
  void ctx.whenStarted.then(() => {
    if (ctx.signal.aborted) return;
    const timer = setTimeout(() => { if (!ctx.signal.aborted) shrinkNow(mode, log); }, AFTER_START_MS);
    timer.unref();
    ctx.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  });
}

export function shrinkNow(mode: Exclude<ResidentSetMode, 'off'>, log: Logger): void {
  try {
    trimMallocHeap();
    const d = dropCleanCodePages(mode === 'code+rodata');
    log.debug(`resident set: ${(d.residentKb / 1024).toFixed(1)} MiB of clean file pages dropped (${d.mappings} mappings; they stay in the page cache)`);
  } catch (e) {
    // Only the resident-set figure is at stake (no addon, no /proc): the run goes on as it is.
    log.debug(`resident set: not shrunk: ${(e as Error).message}`);
  }
}
