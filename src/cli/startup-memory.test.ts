// The per-mark resident set of IG_TRACE_STARTUP=1: read from this process's /proc, written and read back as the
// benchmark does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResident, parseStartupMemory, parseStatus, residentNow } from './startup-memory.js';

test('residentNow: this process\'s VmRSS is RssAnon + RssFile (+ shmem), and at most VmHWM', () => {
  const r = residentNow();
  assert.ok(r, 'read /proc/self/status');
  assert.ok(r.anonKb > 0 && r.fileKb > 0);
  assert.ok(r.rssKb >= r.anonKb + r.fileKb && r.rssKb <= r.hwmKb, JSON.stringify(r));
});

test('startup-memory line: each mark back as written; a mark without figures and a damaged status are left out', () => {
  const a = { rssKb: 50464, anonKb: 13704, fileKb: 36760, hwmKb: 50560 };
  const line = [formatResident('main', a), formatResident('image', undefined), formatResident('attached', { ...a, rssKb: 65076 })].join(', ');
  assert.equal(line, 'main 50464/13704/36760/50560, image -, attached 65076/13704/36760/50560');
  assert.deepEqual(parseStartupMemory(line), { main: a, attached: { ...a, rssKb: 65076 } });
  assert.equal(parseStatus('VmRSS:\t 10 kB\nRssAnon:\t 5 kB\n'), undefined);
});
