// `ig run`: V8's optimizing compiler (TurboFan) waits until the run streams. Its first compile in a process pages in
// ≈3.4 MiB of node's code (the compiler's own), and at start-up two functions were hot enough for it (Buffer's
// readUInt32LE, node's argument validators): 3.4 MiB of start-up's peak RSS (VmHWM 72.2 → 68.5 MiB, trace_open
// -o json; docs/benchmarks.md), pages a streaming run on the fast path may never need. What is hot in a stream
// is optimized a little later (after 4× the default interrupt budget), which no per-event cost notices.
//
// Changed V8 flags make node's embedded code cache for its own modules unusable (V8 checks a hash of the flags):
// the modules `ig run` loads are loaded first, under the default flags, so they keep their cache (without that,
// ≈10 ms more CPU before the first event). A module missing from the list only compiles from source.
// IG_DEFER_TIER_UP=0 keeps V8's defaults.
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/**
 * node's modules an `ig run` loads (process.moduleLoadList of a trace_open run). Not zlib, tls, fs/promises and
 * readline: a run of a stored image does not use them (src/runtime/lazy-builtins.ts), and a module loaded here
 * stays resident (≈1 MiB for these four); a run that needs one later compiles it from source.
 */
const RUN_BUILTINS = ['crypto', 'net', 'dgram', 'child_process', 'perf_hooks', 'os',
  'stream', 'stream/promises', 'string_decoder', 'url', 'util', 'events', 'buffer', 'vm', 'module', 'diagnostics_channel',
  'async_hooks', 'timers', 'path', 'querystring', 'fs'];

/** The flags (exported for the test). */
export const DEFER_TIER_UP_FLAGS = ['--max-bytecode-size-for-early-opt=0', '--interrupt-budget=270336'];

/** True when the flags were set: for `ig run` (its first non-flag word), unless IG_DEFER_TIER_UP=0. */
export function deferTierUp(args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['IG_DEFER_TIER_UP'] === '0') return false;
  let word: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') { i++; continue; }
    if (!args[i]!.startsWith('-')) { word = args[i]; break; }
  }
  if (word !== 'run') return false;
  const req = createRequire(import.meta.url);
  for (const m of RUN_BUILTINS) req(`node:${m}`);
  for (const f of DEFER_TIER_UP_FLAGS) setFlagsFromString(f);
  return true;
}
