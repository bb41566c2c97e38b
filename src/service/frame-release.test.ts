import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameRelease } from './frame-release.js';

function tracked() {
  const log: string[] = [];
  const frame = Buffer.from('frame');
  const rel = new FrameRelease(frame, (f) => { assert.equal(f, frame); log.push('release'); }, (f) => { assert.equal(f, frame); log.push('count'); });
  return { rel, log };
}

test('FrameRelease: released once the last of several writes is done, not before (a slow client holds it)', () => {
  const { rel, log } = tracked();
  const fast = rel.write();
  const slow = rel.write();
  rel.forwarded();
  fast('done');
  assert.deepEqual(log, [], 'the slow client\'s write is still pending');
  fast('done'); // a second call of the same completion counts once
  assert.deepEqual(log, []);
  slow('done');
  assert.deepEqual(log, ['release']);
});

test('FrameRelease: writes that complete before the forwarding ends wait for it; no write at all releases at once', () => {
  const a = tracked();
  a.rel.write()('done');
  assert.deepEqual(a.log, []);
  a.rel.forwarded();
  assert.deepEqual(a.log, ['release']);
  const b = tracked();
  b.rel.forwarded();
  assert.deepEqual(b.log, ['release'], 'a frame no client took goes back at once');
});

test('FrameRelease: a failed write or a hold keeps the frame (counted); a copying writer leaves it to GC', () => {
  const failed = tracked();
  const w1 = failed.rel.write();
  const w2 = failed.rel.write();
  failed.rel.forwarded();
  w1('failed');
  w2('done');
  assert.deepEqual(failed.log, ['count']);
  const held = tracked();
  held.rel.hold();
  held.rel.write()('done');
  held.rel.forwarded();
  assert.deepEqual(held.log, ['count']);
  const copied = tracked();
  copied.rel.write()('copied');
  copied.rel.write()('done');
  copied.rel.forwarded();
  assert.deepEqual(copied.log, []);
  const both = tracked();
  both.rel.write()('copied');
  both.rel.write()('failed');
  both.rel.forwarded();
  assert.deepEqual(both.log, ['count'], 'a failure wins over a copy');
});
