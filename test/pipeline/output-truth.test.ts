// Output that never lies: exact 64-bit integers and quoted timestamps in YAML, widths in terminal cells,
// escaped control characters, an uncut last column, the header before the first event, unknown data sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as yamlParse } from 'yaml';
import { makeDs, makeBatch, RECS, capture } from './fixtures.js';
import { makeRenderer, checkTargets } from '../../src/operators/cli/operator.js';
import { columnFor, fit, cells, escapeControls, fitColumnsToWidth } from '../../src/operators/cli/columns.js';
import { installFormatters } from '../../src/operators/formatters/operator.js';

test('yaml: a u64 above 2^53 stays exact, timestamps are quoted', () => {
  const ds = makeDs();
  const rewriters = installFormatters(ds);
  const b = makeBatch(ds, [{ ...RECS[0]!, mntns: 18446744073709551615n }, { ...RECS[1]!, mntns: 9007199254740993n }]);
  for (const r of rewriters) r(b);
  const { out, sink } = capture();
  makeRenderer(ds, 'yaml', 'mntns_id,timestamp', sink)!(b);
  const text = out.join('');
  assert.match(text, /^mntns_id: 18446744073709551615$/m, text);
  assert.match(text, /^mntns_id: 9007199254740993$/m, text);
  // Quoted: a YAML 1.1 reader would otherwise turn it into a date and lose the nanoseconds.
  assert.match(text, /^timestamp: "\d{4}-\d\d-\d\dT[^"]+"$/m, text);
  const docs = text.split(/^---\n/m).filter(Boolean).map((d) => yamlParse(d, { intAsBigInt: true }) as { mntns_id: bigint });
  assert.equal(docs[0]!.mntns_id, 18446744073709551615n);
});

test('columns: wide characters count as two cells, control characters and escape sequences are escaped', () => {
  const ds = makeDs();
  const b = makeBatch(ds, [{ ...RECS[0]!, comm: '日本語' }, { ...RECS[0]!, comm: 'a\x1b[2Jb\tc\n' }, { ...RECS[0]!, comm: 'x\u202Ey' }]);
  const { out, sink } = capture();
  makeRenderer(ds, 'columns', 'comm,pid', sink)!(b);
  const lines = out.join('').split('\n');
  // PID is right-aligned: every line ends at the same terminal cell when widths count cells.
  const pidCol = (l: string) => cells(l);
  assert.equal(pidCol(lines[1]!), pidCol(lines[0]!), JSON.stringify(lines));
  assert.ok(lines[1]!.startsWith('日本語 '), lines[1]);
  assert.ok(lines[2]!.startsWith('a\\e[2Jb\\tc\\n'), lines[2]);
  assert.ok(!/[\x00-\x1f]/.test(out.join('').replace(/\n/g, '')), 'no raw control character reaches the terminal');
  assert.ok(lines[3]!.startsWith('x\\u202ey'), lines[3]);
  assert.equal(escapeControls('\x7f\x9b'), '\\x7f\\x9b');
  assert.equal(pidCol(lines[3]!), pidCol(lines[0]!));
});

test('columns: cutting a wide string never splits a character', () => {
  const ds = makeDs();
  const f = ds.getField('comm')!;
  f.annotations.set('columns.width', '6');
  const c = columnFor(ds, f);
  f.annotations.delete('columns.width');
  const s = fit('日本語テキスト', c, false);
  assert.equal(cells(s), 6);
  assert.equal(s, '日本… ');
});

test('columns: the last column is never cut unless it declares columns.maxwidth', () => {
  const ds = makeDs();
  const f = ds.getField('comm')!;
  f.annotations.delete('columns.maxwidth'); // the comm template caps it at 16
  const path = '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/42/fs/etc/ld.so.cache';
  assert.equal(fit(path, columnFor(ds, f, true), true), path);
  assert.equal(fit(path, columnFor(ds, f, false), false).length, 16, 'a column in the middle keeps its width');
  f.annotations.set('columns.maxwidth', '20');
  const capped = fit(path, columnFor(ds, f, true), true);
  assert.equal(cells(capped), 20);
});

test('columns: on a narrow terminal the text columns before the last narrow (never numbers, never below the header)', () => {
  const ds = makeDs();
  const comm = ds.getField('comm')!;
  const pid = ds.getField('pid')!;
  const mk = () => [columnFor(ds, comm), columnFor(ds, pid), columnFor(ds, comm, true)];
  const wide = mk();
  fitColumnsToWidth(wide, 200);
  assert.deepEqual(wide.map((c) => c.width), mk().map((c) => c.width), 'a wide terminal changes nothing');
  const narrow = mk();
  const before = narrow.map((c) => c.width);
  fitColumnsToWidth(narrow, before[1]! + 'COMM'.length * 2 + 2);
  assert.equal(narrow[0]!.width, 'COMM'.length, 'the text column shrinks to its header');
  assert.equal(narrow[1]!.width, before[1], 'numbers keep their width');
  assert.equal(narrow[2]!.width, before[2], 'the last column is not narrowed');
  assert.equal(narrow[0]!.maxCells, narrow[0]!.width, 'and values are cut to the new width');
  // through the renderer: a sink that is a terminal of 30 columns
  const { out } = capture();
  const sink = { write: (s: string) => { out.push(s); }, isTTY: true, width: 30 };
  const b = makeBatch(ds, [{ ...RECS[0]!, comm: 'abcdefghijklmnop' }]);
  makeRenderer(ds, 'columns', 'comm,pid,comm', sink)!(b);
  const [header, row] = out.join('').split('\n');
  assert.ok(cells(header!) <= 30, header);
  assert.ok(row!.endsWith('abcdefghijklmnop'), `the last column is whole: ${row}`);
});

test('columns: the header of a stream is printed when the run starts, once', () => {
  const ds = makeDs();
  const { out, sink } = capture();
  const r = makeRenderer(ds, 'columns', 'pid,comm', sink)!;
  assert.ok(r.begin, 'streams print their header at start');
  r.begin!();
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^\s*PID\s+COMM\n$/);
  r(makeBatch(ds, RECS.slice(0, 1)));
  assert.equal(out.join('').split('\n').filter((l) => /^\s*PID/.test(l)).length, 1);
});

test('-o and --fields name an unknown data source', () => {
  const modes = (m: string) => ['json', 'columns'].includes(m);
  assert.throws(() => checkTargets('nosuchds:json', ['open'], ',', '-o', modes), /no data source "nosuchds" \(data sources: open\)/);
  assert.doesNotThrow(() => checkTargets('open:json', ['open'], ',', '-o', modes));
  assert.doesNotThrow(() => checkTargets('json', ['open'], ',', '-o', modes));
  assert.throws(() => checkTargets('other:pid,comm', ['open'], ';', '--fields', () => false), /no data source "other"/);
});
