// The process watchdog's last resort: a call V8 cannot stop (blocked in a syscall) gets the line and SIGKILL
// at twice the deadline; everything V8 can stop ends with an ordinary Error (src/operators/wasm/operator.test.ts covers that).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const WATCHDOG = new URL('./deadline.js', import.meta.url).href;

function runChild(body: string): ReturnType<typeof spawnSync> {
  const src = `import { DeadlineSlot } from ${JSON.stringify(WATCHDOG)};\n${body}`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', timeout: 20000 });
}

test('a call blocked where V8 cannot stop it: one line, then SIGKILL at twice the deadline', () => {
  const t0 = Date.now();
  const r = runChild(`
    import { execFileSync } from 'node:child_process';
    const s = DeadlineSlot.open('wasm module of test', 'dataSourceCallback', 300);
    s.call(() => execFileSync('sleep', ['8']));
    console.log('returned');`);
  assert.equal(r.signal, 'SIGKILL', String(r.stderr));
  assert.ok(Date.now() - t0 < 6000, 'killed long before the sleep ended');
  assert.equal(String(r.stdout), '');
  assert.equal(String(r.stderr).trim(), 'Error: wasm module of test: dataSourceCallback did not return within 300 ms and could not be stopped; ig was killed (--wasm-timeout)');
});

test('a stopped call throws IG_WASM_DEADLINE; the slot and the process keep working', () => {
  const r = runChild(`
    const s = DeadlineSlot.open('m', 'cb', 100);
    let code;
    try { s.call(() => { for (;;) {} }); } catch (e) { code = e.code; }
    const ok = s.call(() => 41 + 1);
    await new Promise((res) => setTimeout(res, 300));
    s.release();
    console.log(code, ok);`);
  assert.equal(r.status, 0, String(r.stderr));
  assert.equal(String(r.stdout).trim(), 'IG_WASM_DEADLINE 42');
});

test('after a second with nothing armed the watchdog parks (no wake-ups) and the next call still has its deadline', () => {
  const r = runChild(`
    import { readFileSync, readdirSync } from 'node:fs';
    const s = DeadlineSlot.open('m', 'cb', 100);
    s.call(() => 1);
    // the watchdog is the thread whose voluntary switches rise by ~100 a second while it ticks
    const switches = () => new Map(readdirSync('/proc/self/task').map((t) => [t, Number(/voluntary_ctxt_switches:\\s+(\\d+)/.exec(readFileSync('/proc/self/task/' + t + '/status', 'utf8'))[1])]));
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    sleep(1500); // parks after 1 s idle
    const a = switches(); sleep(1000); const b = switches();
    const busiest = Math.max(...[...b].map(([t, n]) => n - (a.get(t) ?? n)));
    let code;
    try { s.call(() => { for (;;) {} }); } catch (e) { code = e.code; }
    s.release();
    console.log(code, busiest);`);
  assert.equal(r.status, 0, String(r.stderr));
  const [code, busiest] = String(r.stdout).trim().split(' ');
  assert.equal(code, 'IG_WASM_DEADLINE', 'a call after the watchdog parked is stopped at its deadline');
  assert.ok(Number(busiest) < 20, `no thread of an idle process woke ~100 times a second (busiest: ${busiest} in 1 s)`);
});
