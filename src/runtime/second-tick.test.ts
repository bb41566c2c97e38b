// The shared 1 s tick: one timer for every periodic check, ref'd only while a job asks for it, gone without jobs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { everySecond, runSecondTickNow, secondTickState } from './second-tick.js';

describe('second tick', () => {
  it('runs every registered job on one timer; the timer is cleared when the last job leaves', () => {
    const start = secondTickState();
    assert.equal(start.jobs, 0);
    assert.equal(start.armed, false);
    const ran: string[] = [];
    const leaveA = everySecond(() => ran.push('a'));
    const leaveB = everySecond(() => ran.push('b'));
    const leaveC = everySecond(() => ran.push('c'));
    const s = secondTickState();
    assert.equal(s.jobs, 3);
    assert.equal(s.timersArmed, start.timersArmed + 1, 'three jobs, one timer');
    runSecondTickNow();
    assert.deepEqual(ran, ['a', 'b', 'c']);
    leaveB();
    leaveB(); // idempotent
    runSecondTickNow();
    assert.deepEqual(ran, ['a', 'b', 'c', 'a', 'c']);
    leaveA();
    leaveC();
    assert.equal(secondTickState().armed, false, 'no jobs, no timer');
    assert.equal(secondTickState().timersArmed, start.timersArmed + 1);
  });

  it('keeps the process alive only while a ref job is registered', () => {
    const leaveUnref = everySecond(() => {});
    assert.equal(secondTickState().ref, false);
    const leaveRef = everySecond(() => {}, { ref: true });
    assert.equal(secondTickState().ref, true);
    leaveRef();
    assert.equal(secondTickState().ref, false);
    assert.equal(secondTickState().armed, true);
    leaveUnref();
    assert.equal(secondTickState().armed, false);
  });

  it('a job that throws does not skip the others; the error is rethrown', () => {
    const ran: string[] = [];
    const leave1 = everySecond(() => { throw new Error('boom'); });
    const leave2 = everySecond(() => ran.push('after'));
    assert.throws(() => runSecondTickNow(), /boom/);
    assert.deepEqual(ran, ['after']);
    leave1();
    leave2();
  });

  it('a job may leave during a tick, and one that left before its turn is not run', () => {
    const ran: string[] = [];
    let leave2: () => void = () => {};
    const leave1 = everySecond(() => { ran.push('1'); leave1(); leave2(); });
    leave2 = everySecond(() => ran.push('2'));
    runSecondTickNow();
    assert.deepEqual(ran, ['1']);
    assert.equal(secondTickState().armed, false);
  });
});
