/**
 * The suite's file runner (scripts/test.sh): node's test runner over the given files, `--concurrency` at a time,
 * **slowest first**. `node --test` sorts its files by name, so a long file that sorts late (test/robustness, 50 s)
 * started while the other lane had nothing left: a lane sat idle for most of a minute at the end of the run. Here the
 * files start in order of their last known time (`--weights` files, "<ms> <dist/...file>" lines, later ones
 * overriding earlier ones: the committed snapshot, then this checkout's last run); a file with no known time goes
 * first, since it may be slow. Prints TAP on stdout, appends "<ms> <file>" per file (the sum of its top-level tests)
 * to `--durations`, and exits 1 when a test failed.
 *   node dist/test/harness/run-files.js --concurrency N --durations OUT [--weights FILE]... FILE...
 */
import { run } from 'node:test';
import { tap } from 'node:test/reporters';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Options { concurrency: number; durations: string; weights: string[]; files: string[] }

function parseArgs(argv: string[]): Options {
  const o: Options = { concurrency: 1, durations: '', weights: [], files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`run-files: ${a} needs a value`);
      return v;
    };
    if (a === '--concurrency') o.concurrency = Number(value());
    else if (a === '--durations') o.durations = value();
    else if (a === '--weights') o.weights.push(value());
    else o.files.push(a);
  }
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new Error('run-files: --concurrency must be a whole number >= 1');
  if (!o.durations) throw new Error('run-files: --durations FILE is required');
  return o;
}

/** Last known ms per file (absolute path), from "<ms> <path>" lines; later files override earlier ones. */
function readWeights(paths: string[]): Map<string, number> {
  const w = new Map<string, number>();
  for (const p of paths) {
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n')) {
      const m = /^(\d+) (\S+)$/.exec(line.trim());
      if (m) w.set(resolve(m[2]!), Number(m[1]));
    }
  }
  return w;
}

/** Unknown files first (they may be slow), then slowest first; ties by name so that the order is stable. */
export function slowestFirst(files: string[], weights: Map<string, number>): string[] {
  const key = (f: string) => weights.get(f) ?? Number.POSITIVE_INFINITY;
  return [...files].sort((a, b) => key(b) - key(a) || (a < b ? -1 : a > b ? 1 : 0));
}

interface TestData { nesting: number; file?: string; todo?: unknown; details?: { duration_ms?: number } }

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const files = slowestFirst(o.files.map((f) => resolve(f)), readWeights(o.weights));
  const perFile = new Map<string, number>();
  const stream = run({ files, concurrency: o.concurrency, timeout: 600_000 });
  const count = (d: TestData) => {
    if (d.nesting === 0 && d.file) perFile.set(d.file, (perFile.get(d.file) ?? 0) + (d.details?.duration_ms ?? 0));
  };
  stream.on('test:pass', count);
  stream.on('test:fail', (d: TestData) => {
    count(d);
    if (d.todo === undefined || d.todo === false) process.exitCode = 1;  // a failing todo test does not fail the run
  });
  await new Promise<void>((done, fail) => {
    stream.compose(tap).pipe(process.stdout).on('error', fail);
    stream.on('end', () => done());
  });
  appendFileSync(o.durations, [...perFile].map(([f, ms]) => `${Math.round(ms)} ${f}\n`).join(''));
}

// Imported by its test for slowestFirst: run only as the script.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  });
}
