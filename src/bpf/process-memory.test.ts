// Dropping clean file pages: only mappings that are file-backed, not writable and hold no private copies; the
// process keeps running and its data is untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { dropCleanCodePages, dropCleanFilePages } from './process-memory.js';

interface Mapping { start: number; end: number; perms: string; path: string; rssKb: number; anonKb: number }

function mappings(): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of readFileSync('/proc/self/smaps', 'latin1').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (m) {
      cur = { start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), perms: m[3]!, path: m[5]!, rssKb: 0, anonKb: 0 };
      out.push(cur);
      continue;
    }
    const f = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (f && cur) { if (f[1] === 'Rss') cur.rssKb = Number(f[2]); else cur.anonKb = Number(f[2]); }
  }
  return out;
}

const mappingAt = (start: number) => mappings().find((m) => m.start === start);

test('refuses a writable file mapping (node data segment), and leaves its pages as they are', () => {
  const rw = mappings().find((m) => m.perms.startsWith('rw') && m.path.startsWith('/') && m.rssKb > 0);
  assert.ok(rw, 'a writable file mapping with resident pages');
  assert.throws(() => dropCleanFilePages(rw.start, rw.end), /refusing to drop pages of mapping .*: it is writable/);
  assert.ok(mappingAt(rw.start)!.rssKb > 0);
});

test('refuses a read-only mapping holding private copies (RELRO: relocations written at load)', () => {
  const relro = mappings().find((m) => m.perms === 'r--p' && m.path.startsWith('/') && m.anonKb > 0);
  assert.ok(relro, 'a RELRO mapping (read-only, with anonymous pages)');
  const before = relro.anonKb;
  assert.throws(() => dropCleanFilePages(relro.start, relro.end), /it holds private copies of pages/);
  assert.equal(mappingAt(relro.start)!.anonKb, before);
});

test('refuses anonymous memory, ranges outside one mapping and unaligned ranges', () => {
  const heap = mappings().find((m) => m.path === '[heap]' || (m.path === '' && m.perms.startsWith('rw')));
  assert.ok(heap);
  assert.throws(() => dropCleanFilePages(heap.start, heap.end), /writable|not backed by a file/);
  const all = mappings();
  const a = all[0]!;
  assert.throws(() => dropCleanFilePages(a.start, all[2]!.end), /not inside one mapping/); // spans three
  assert.throws(() => dropCleanFilePages(a.start + 1, a.end), /not a page-aligned range/);
});

test('drops the resident pages of a clean executable mapping; the code still runs', () => {
  // A library this process rarely runs (not libc, not node): its pages stay out once dropped.
  const code = mappings().filter((m) => m.perms === 'r-xp' && m.path.startsWith('/') && m.anonKb === 0 && m.rssKb >= 8 && !/\/node$|libc\.so/.test(m.path))
    .sort((a, b) => b.rssKb - a.rssKb)[0];
  assert.ok(code, 'a clean executable library mapping with resident pages');
  const kb = dropCleanFilePages(code.start, code.end);
  assert.equal(kb, code.rssKb);
  assert.ok(mappingAt(code.start)!.rssKb < code.rssKb, `${code.path}: ${mappingAt(code.start)!.rssKb} kB resident after, ${code.rssKb} before`);
});

test('dropCleanCodePages: executable and clean read-only mappings go, writable and RELRO ones keep their pages', () => {
  const data = { text: 'kept'.repeat(1000), n: [1, 2, 3] };
  const before = mappings();
  const d = dropCleanCodePages(true);
  assert.ok(d.mappings > 0 && d.residentKb > 0, JSON.stringify(d));
  const after = new Map(mappings().map((m) => [m.start, m]));
  for (const m of before) {
    const a = after.get(m.start);
    if (!a || a.end !== m.end) continue;
    // Private copies (anonymous pages of file mappings) are never dropped.
    if (m.path.startsWith('/') && m.anonKb > 0) assert.ok(a.anonKb >= m.anonKb, `${m.perms} ${m.path}: anonymous ${m.anonKb} → ${a.anonKb} kB`);
  }
  const node = before.filter((m) => m.perms === 'r-xp' && m.path === realpathSync(process.execPath));
  const rssBefore = node.reduce((s, m) => s + m.rssKb, 0);
  const rssAfter = node.reduce((s, m) => s + (after.get(m.start)?.rssKb ?? 0), 0);
  assert.ok(rssAfter < rssBefore, `node code ${rssBefore} → ${rssAfter} kB`);
  // The process runs on (its code refaults from the page cache) and its data is intact.
  assert.equal(JSON.stringify(data), JSON.stringify({ text: 'kept'.repeat(1000), n: [1, 2, 3] }));
});
