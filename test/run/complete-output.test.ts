// Complete output at exit (issue 10 item 5): when stdout is a pipe whose reader has stopped reading at the moment
// the run ends (--timeout or SIGTERM), ig must not leave half a JSON line behind. The reader pauses while events
// stream, the run ends, then the reader drains: every line must parse, on the native (reader-thread) JSON path and
// on the JS path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { IG_MAIN } from '../harness/ig.js';
import { compileC, tempDir } from '../harness/workload.js';

// Opens with a long path, as fast as it can: lines of ~300 bytes fill a 64 KiB pipe within milliseconds.
const OPENER = `
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv) {
  for (;;) { int fd = open(argv[1], O_RDONLY); if (fd >= 0) close(fd); }
}
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Lines are checked as they arrive and only the last bytes are kept: a run that floods the pipe before the pause
// can write more than a JS string holds (~512 MiB), which once ended this test in a RangeError.
interface Run {
  code: number | null; signal: NodeJS.Signals | null; stderr: string;
  bytes: number; lines: number; tail: string; partial: string;
  /** The first line the check refused, with its number. */
  bad?: string;
}

type LineCheck = (line: string, k: number) => boolean;

async function pausedReaderRun(opts: { native: boolean; end: 'SIGTERM' | 'timeout'; mode?: string; neverDrain?: boolean; check?: LineCheck }): Promise<Run & { stopMs: number }> {
  const { dir, cleanup } = tempDir('ig-arch-data-out-');
  const opener = join(dir, 'igcomplete_op');
  copyFileSync(compileC(dir, 'opener', OPENER), opener); // a comm of our own: only its opens are traced
  const target = join(dir, 'x'.repeat(150));
  const timeoutArgs = opts.end === 'timeout' ? ['--timeout', '4'] : [];
  const ig = spawn(process.execPath, [IG_MAIN, 'run', 'trace_open', '--host', '-o', opts.mode ?? 'json', '--comm', 'igcomplete_op', ...timeoutArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, IG_NATIVE_RENDER: opts.native ? '1' : '0' },
  });
  const out: Run = { code: null, signal: null, stderr: '', bytes: 0, lines: 0, tail: '', partial: '' };
  let seen = false;
  ig.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out.bytes += Buffer.byteLength(d);
    out.tail = (out.tail + d).slice(-200);
    const parts = (out.partial + d).split('\n');
    out.partial = parts.pop()!;
    for (const line of parts) {
      if (!seen && line.includes('igcomplete_op')) seen = true;
      if (out.bad === undefined && opts.check && !opts.check(line, out.lines)) out.bad = `line ${out.lines + 1}: ${JSON.stringify(line.slice(0, 200))}`;
      out.lines++;
    }
  });
  let stderr = '';
  ig.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => ig.on('exit', (code, signal) => res({ code, signal })));
  let load: ChildProcess | undefined;
  const killer = setTimeout(() => ig.kill('SIGKILL'), 60000);
  try {
    // Attached once the opener's events arrive (it runs until we stop it).
    load = spawn(opener, [target], { stdio: 'ignore' });
    const deadline = Date.now() + 20000;
    while (!seen && Date.now() < deadline) await sleep(50);
    assert.ok(seen, `no event: ${stderr}`);
    await sleep(200);
    // Stop reading: the pipe fills and ig's writes block in the middle of lines.
    ig.stdout!.pause();
    if (opts.neverDrain) {
      // The reader never comes back: the stop must still end, in bounded time.
      await sleep(500);
      const t0 = Date.now();
      ig.kill('SIGTERM');
      const { code, signal } = await exited;
      return { ...out, code, signal, stderr, stopMs: Date.now() - t0 };
    }
    if (opts.end === 'SIGTERM') {
      await sleep(500);
      ig.kill('SIGTERM');
      await sleep(1500);
    } else {
      // The timeout (4 s from the start) falls within this pause.
      await sleep(4500);
    }
    load.kill('SIGKILL');
    ig.stdout!.resume();
    const { code, signal } = await exited;
    return { ...out, code, signal, stderr, stopMs: 0 };
  } finally {
    clearTimeout(killer);
    load?.kill('SIGKILL');
    cleanup();
  }
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false; // the caller reports the line
  }
}

function checkLines(r: Run, what: string, kind: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code ?? r.signal}: ${r.stderr}`);
  assert.ok(r.bytes > 64 * 1024, `${what}: only ${r.bytes} bytes: the pipe never filled`);
  assert.ok(r.partial === '', `${what}: output ends in the middle of a line: ...${JSON.stringify(r.tail.slice(-120))}`);
  assert.equal(r.bad, undefined, `${what}: ${r.lines} lines; not ${kind}: ${r.bad}`);
}

for (const native of [true, false]) {
  for (const end of ['SIGTERM', 'timeout'] as const) {
    const path = native ? 'native JSON path' : 'JS JSON path';
    test(`${path}, ${end} while the reader of stdout is paused: every line is complete`, async () => {
      const r = await pausedReaderRun({ native, end, check: isJson });
      checkLines(r, `${path}, ${end}`, 'JSON');
      if (native) assert.doesNotMatch(r.stderr, /JSON rendered in JS/);
    });
  }
}

test('columns output (JS path), SIGTERM while the reader of stdout is paused: every row is complete', async () => {
  // The file name is the last column and is never cut: a complete row (after the header) ends with the whole name.
  const row = /igcomplete_op .* ENOENT .*\/x{150}$/;
  const r = await pausedReaderRun({ native: false, end: 'SIGTERM', mode: 'columns', check: (line, k) => k === 0 || row.test(line) });
  checkLines(r, 'columns', 'a complete row');
});

test('native JSON path: a reader that never drains does not hang the stop', async () => {
  const r = await pausedReaderRun({ native: true, end: 'SIGTERM', neverDrain: true });
  assert.equal(r.code, 0, r.stderr);
  // At most the time allowed to finish a line begun (5 s), plus stopping.
  assert.ok(r.stopMs < 15000, `stop took ${r.stopMs} ms`);
});
