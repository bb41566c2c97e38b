/**
 * A node:test reporter (scripts/test.sh adds it beside TAP): per test file, the sum of its top-level tests'
 * durations, one line each, `<ms> <file>`, when the run ends. Node 20's TAP output has no file names for passing
 * tests, so this is where the suite's slow files are found (docs/testing.md's table comes from it).
 */

interface TestEvent {
  type: string;
  data: { nesting?: number; file?: string; details?: { duration_ms?: number } };
}

export default async function* fileDurations(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const perFile = new Map<string, number>();
  for await (const ev of source) {
    if ((ev.type !== 'test:pass' && ev.type !== 'test:fail') || ev.data.nesting !== 0 || !ev.data.file) continue;
    perFile.set(ev.data.file, (perFile.get(ev.data.file) ?? 0) + (ev.data.details?.duration_ms ?? 0));
  }
  for (const [file, ms] of perFile) yield `${Math.round(ms)} ${file}\n`;
}
