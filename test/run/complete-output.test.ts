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

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

async function pausedReaderRun(opts: { native: boolean; end: 'SIGTERM' | 'timeout'; mode?: string; neverDrain?: boolean }): Promise<Run & { stopMs: number }> {
  const { dir, cleanup } = tempDir('ig-arch-data-out-');
  const opener = join(dir, 'igcomplete_op');
  copyFileSync(compileC(dir, 'opener', OPENER), opener); // a comm of our own: only its opens are traced
  const target = join(dir, 'x'.repeat(150));
  const timeoutArgs = opts.end === 'timeout' ? ['--timeout', '4'] : [];
  const ig = spawn(process.execPath, [IG_MAIN, 'run', 'trace_open', '--host', '-o', opts.mode ?? 'json', '--comm', 'igcomplete_op', ...timeoutArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, IG_NATIVE_RENDER: opts.native ? '1' : '0' },
  });
  let stdout = '';
  let stderr = '';
  ig.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  ig.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => ig.on('exit', (code, signal) => res({ code, signal })));
  let load: ChildProcess | undefined;
  const killer = setTimeout(() => ig.kill('SIGKILL'), 60000);
  try {
    // Attached once the opener's events arrive (it runs until we stop it).
    load = spawn(opener, [target], { stdio: 'ignore' });
    const deadline = Date.now() + 20000;
    while (!stdout.includes('igcomplete_op') && Date.now() < deadline) await sleep(50);
    assert.ok(stdout.includes('igcomplete_op'), `no event: ${stderr}`);
    await sleep(200);
    // Stop reading: the pipe fills and ig's writes block in the middle of lines.
    ig.stdout!.pause();
    if (opts.neverDrain) {
      // The reader never comes back: the stop must still end, in bounded time.
      await sleep(500);
      const t0 = Date.now();
      ig.kill('SIGTERM');
      const { code, signal } = await exited;
      return { code, signal, stdout, stderr, stopMs: Date.now() - t0 };
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
    return { code, signal, stdout, stderr, stopMs: 0 };
  } finally {
    clearTimeout(killer);
    load?.kill('SIGKILL');
    cleanup();
  }
}

function checkLines(r: Run, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code ?? r.signal}: ${r.stderr}`);
  assert.ok(r.stdout.length > 64 * 1024, `${what}: only ${r.stdout.length} bytes: the pipe never filled`);
  assert.ok(r.stdout.endsWith('\n'), `${what}: output ends in the middle of a line: ...${JSON.stringify(r.stdout.slice(-120))}`);
  const lines = r.stdout.split('\n');
  lines.pop();
  for (const [k, line] of lines.entries()) {
    try {
      JSON.parse(line);
    } catch {
      assert.fail(`${what}: line ${k + 1} of ${lines.length} is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
    }
  }
}

for (const native of [true, false]) {
  for (const end of ['SIGTERM', 'timeout'] as const) {
    const path = native ? 'native JSON path' : 'JS JSON path';
    test(`${path}, ${end} while the reader of stdout is paused: every line is complete`, async () => {
      const r = await pausedReaderRun({ native, end });
      checkLines(r, `${path}, ${end}`);
      if (native) assert.doesNotMatch(r.stderr, /JSON rendered in JS/);
    });
  }
}

test('columns output (JS path), SIGTERM while the reader of stdout is paused: every row is complete', async () => {
  const r = await pausedReaderRun({ native: false, end: 'SIGTERM', mode: 'columns' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.length > 64 * 1024, `only ${r.stdout.length} bytes: the pipe never filled`);
  assert.ok(r.stdout.endsWith('\n'), `output ends in the middle of a row: ...${JSON.stringify(r.stdout.slice(-120))}`);
  const rows = r.stdout.split('\n').slice(1, -1);
  // The file name is the last column and is never cut: a complete row ends with the whole name.
  for (const row of rows) assert.match(row, /igcomplete_op .* ENOENT .*\/x{150}$/, `incomplete row: ${JSON.stringify(row)}`);
});

test('native JSON path: a reader that never drains does not hang the stop', async () => {
  const r = await pausedReaderRun({ native: true, end: 'SIGTERM', neverDrain: true });
  assert.equal(r.code, 0, r.stderr);
  // At most the time allowed to finish a line begun (5 s), plus stopping.
  assert.ok(r.stopMs < 15000, `stop took ${r.stopMs} ms`);
});
