import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeDs, makeBatch, RECS, capture } from './fixtures.js';
import { compileFilter, FilterError } from '../../src/operators/filter/parse.js';
import { compileSort, SortError } from '../../src/operators/sort/operator.js';
import { installFormatters } from '../../src/operators/formatters/operator.js';
import { makeRenderer } from '../../src/operators/cli/operator.js';
import { selectFields, FieldsError } from '../../src/operators/cli/fields.js';
import { perDataSource } from '../../src/operators/perds.js';

const pids = (ds: ReturnType<typeof makeDs>, b: ReturnType<typeof makeBatch>) => [...b.indices()].map((i) => ds.getField('pid')!.get(b, i));

test('filter: every operator, typed values, and "and" across commas', () => {
  const ds = makeDs();
  const run = (expr: string) => { const b = makeBatch(ds, RECS); const p = compileFilter(ds, expr)!; b.retain((i) => p(b, i)); return pids(ds, b); };
  assert.deepEqual(run('pid==42'), [42]);
  assert.deepEqual(run('pid=42'), [42]);
  assert.deepEqual(run('pid!=42'), [7, 1234]);
  assert.deepEqual(run('pid>7'), [42, 1234]);
  assert.deepEqual(run('pid>=42'), [42, 1234]);
  assert.deepEqual(run('pid<42'), [7]);
  assert.deepEqual(run('pid<=42'), [42, 7]);
  assert.deepEqual(run('comm~^cat'), [42, 1234]);
  assert.deepEqual(run('comm!~^cat'), [7]);
  assert.deepEqual(run('comm~^cat,pid>100'), [1234]);
  assert.deepEqual(run('comm==bash'), [7]);
});

test('filter: bad field, bad value and bad regex are clear errors', () => {
  const ds = makeDs();
  assert.throws(() => compileFilter(ds, 'nope==1'), (e: Error) => e instanceof FilterError && /no field "nope"/.test(e.message));
  assert.throws(() => compileFilter(ds, 'pid==abc'), /expected an integer/);
  assert.throws(() => compileFilter(ds, 'comm~('), /invalid filter regex/);
  assert.throws(() => compileFilter(ds, 'pid'), /expected field, operator and value/);
});

test('filter on a formatted field (error name)', () => {
  const ds = makeDs();
  installFormatters(ds);
  const b = makeBatch(ds, RECS);
  const p = compileFilter(ds, 'error==ENOENT')!;
  b.retain((i) => p(b, i));
  assert.deepEqual(pids(ds, b), [7]);
});

test('sort: multi-key, descending, stable; limiter-style truncation', () => {
  const ds = makeDs('array');
  const b = makeBatch(ds, [...RECS, { ...RECS[0]!, pid: 42, comm: 'aaa' }]);
  compileSort(ds, '-pid,comm')(b);
  assert.deepEqual(pids(ds, b), [1234, 42, 42, 7]);
  assert.equal(ds.getField('comm')!.get(b, b.live[1]!), 'aaa');
  assert.throws(() => compileSort(ds, 'nope'), (e: Error) => e instanceof SortError && /no field "nope"/.test(e.message));
});

test('formatters: errno, file flags and timestamps rewritten to wall clock', () => {
  const ds = makeDs();
  const rewriters = installFormatters(ds);
  const b = makeBatch(ds, RECS);
  for (const r of rewriters) r(b);
  assert.equal(ds.getField('error')!.get(b, 1), 'ENOENT');
  assert.equal(ds.getField('error')!.get(b, 0), '');
  assert.equal(ds.getField('flags')!.get(b, 0), 'O_RDONLY|O_CLOEXEC');
  assert.equal(ds.getField('flags')!.get(b, 1), 'O_WRONLY|O_CREAT');
  const ts = ds.getField('timestamp')!.get(b, 0) as string;
  assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$/);
  // boot-time 1000 ns is close to boot: the wall clock is in the past but after 2000.
  const year = Number(ts.slice(0, 4));
  assert.ok(year >= 2000 && year <= new Date().getFullYear());
  assert.equal(ds.getField('error_raw')!.hidden, true);
});

test('json output: nested names, hidden fields included, u64 exact', () => {
  const ds = makeDs();
  installFormatters(ds);
  const { out, sink } = capture();
  const r = makeRenderer(ds, 'json', undefined, sink)!;
  r(makeBatch(ds, RECS.slice(0, 1)));
  const obj = JSON.parse(out.join(''));
  assert.equal(obj.pid, 42);
  assert.equal(obj.comm, 'cat');
  assert.equal(obj.mntns_id, 4026531832);
  assert.equal(obj.error, '');
  assert.equal(obj.flags, 'O_RDONLY|O_CLOEXEC');
  assert.ok('timestamp' in obj && 'timestamp_raw' in obj);
});

test('columns output: header once, widths and right alignment from templates', () => {
  const ds = makeDs();
  installFormatters(ds);
  const { out, sink } = capture();
  const r = makeRenderer(ds, 'columns', 'comm,pid,error', sink)!;
  r(makeBatch(ds, RECS));
  r(makeBatch(ds, RECS.slice(0, 1)));
  const lines = out.join('').trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[0]!, /^COMM\s+PID ERROR$/);
  const pidEnd = lines[0]!.indexOf('PID') + 3;
  for (const l of lines.slice(1)) assert.equal(l[pidEnd - 1] !== ' ', true, `pid right-aligned in "${l}"`);
  assert.match(lines[2]!, /^bash\s+7 ENOENT$/);
});

test('--fields: explicit list, +add/-remove, and unknown names', () => {
  const ds = makeDs();
  installFormatters(ds);
  assert.deepEqual(selectFields(ds, 'pid,comm').map((f) => f.fullName), ['pid', 'comm']);
  const def = selectFields(ds, undefined).map((f) => f.fullName);
  assert.ok(!def.includes('mntns_id') && def.includes('pid') && !def.includes('error_raw'));
  const edited = selectFields(ds, '-pid,+mntns_id').map((f) => f.fullName);
  assert.ok(!edited.includes('pid') && edited.at(-1) === 'mntns_id');
  assert.throws(() => selectFields(ds, 'pid,bogus'), (e: Error) => e instanceof FieldsError && /no field "bogus"/.test(e.message));
});

test('yaml and array json outputs', () => {
  const ds = makeDs('array');
  const { out, sink } = capture();
  makeRenderer(ds, 'yaml', 'pid,comm', sink)!(makeBatch(ds, RECS.slice(0, 2)));
  assert.match(out.join(''), /^---\n- comm: cat\n  pid: 42\n- comm: bash\n  pid: 7\n$/, 'keys sorted, as upstream (its YAML comes from its JSON)');
  const c2 = capture();
  makeRenderer(ds, 'json', 'pid', c2.sink)!(makeBatch(ds, RECS));
  assert.deepEqual(JSON.parse(c2.out.join('')), [{ pid: 42 }, { pid: 7 }, { pid: 1234 }]);
});

test('per-data-source param values', () => {
  assert.deepEqual([...perDataSource('json', ['a', 'b'], ',')], [['a', 'json'], ['b', 'json']]);
  assert.deepEqual([...perDataSource('a:json,b:yaml', ['a', 'b'], ',')], [['a', 'json'], ['b', 'yaml']]);
  assert.deepEqual([...perDataSource('a:x,y;b:z', ['a', 'b'], ';')], [['a', 'x,y'], ['b', 'z']]);
});

test('column cells: ellipsis at the end, start or middle, right alignment, hex', async () => {
  const { fit, columnFor } = await import('../../src/operators/cli/columns.js');
  const ds = makeDs();
  const col = (ann: Record<string, string>) => {
    const f = ds.getField('comm')!;
    const saved = new Map(f.annotations);
    for (const [k, v] of Object.entries(ann)) f.annotations.set(k, v);
    const c = columnFor(ds, f);
    f.annotations.clear();
    for (const [k, v] of saved) f.annotations.set(k, v);
    return c;
  };
  assert.equal(fit('abcdefghij', col({ 'columns.width': '6' }), false), 'abcde…');
  assert.equal(fit('abcdefghij', col({ 'columns.width': '6', 'columns.ellipsis': 'start' }), false), '…fghij');
  assert.equal(fit('abcdefghij', col({ 'columns.width': '6', 'columns.ellipsis': 'middle' }), false), 'ab…hij');
  assert.equal(fit('abcdefghij', col({ 'columns.width': '6', 'columns.ellipsis': 'none' }), false), 'abcdef');
  assert.equal(fit('ab', col({ 'columns.width': '6', 'columns.alignment': 'right' }), false), '    ab');
  assert.equal(fit('ab', col({ 'columns.width': '6' }), false), 'ab    ');
  assert.equal(fit('ab', col({ 'columns.width': '6' }), true), 'ab', 'the last column is not padded');
  const pid = ds.getField('pid')!;
  pid.annotations.set('columns.hex', 'true');
  const { cellText } = await import('../../src/operators/cli/columns.js');
  const b = makeBatch(ds, RECS);
  assert.equal(cellText(columnFor(ds, pid), b, 0), '0x2a');
  pid.annotations.delete('columns.hex');
});

test('hidden fields are not default columns but stay in JSON; columns.alias renames the header', () => {
  const ds = makeDs('single', { fields: { comm: { annotations: { 'columns.alias': 'PROCESS' } } } });
  const { out, sink } = capture();
  makeRenderer(ds, 'columns', undefined, sink)!(makeBatch(ds, RECS.slice(0, 1)));
  const header = out.join('').split('\n')[0]!;
  assert.ok(header.includes('PROCESS') && !header.includes('MNTNS_ID'), header);
  const j = capture();
  makeRenderer(ds, 'json', undefined, j.sink)!(makeBatch(ds, RECS.slice(0, 1)));
  assert.ok('mntns_id' in JSON.parse(j.out.join('')));
});

test('limiter keeps the first N rows of an array batch after sort', async () => {
  const { limiterOperator } = await import('../../src/operators/limiter/operator.js');
  const { sortOperator } = await import('../../src/operators/sort/operator.js');
  const { GadgetContext } = await import('../../src/gadget/context.js');
  const { parseMetadata } = await import('../../src/gadget/metadata.js');
  const ctx = new GadgetContext({ reference: 't', digest: '', ebpf: null, wasm: null, annotations: {} }, parseMetadata('name: t'));
  const ds = ctx.addDataSource('open', 'array');
  const proto = makeDs('array');
  for (const f of proto.fields) ds.addField({ name: f.name, kind: f.kind, tags: f.tags, storage: f.storage });
  ds.staticSize = proto.staticSize;
  await ctx.instantiate([], [sortOperator, limiterOperator]);
  ctx.params.set('operator.sort.sort', '-pid');
  ctx.params.set('operator.limiter.max-entries', '2');
  for (const { inst } of ctx.instances) await inst.preStart?.(ctx);
  const b = makeBatch(ds as never, RECS);
  ds.emit(b);
  assert.deepEqual([...b.indices()].map((i) => ds.getField('pid')!.get(b, i)), [1234, 42]);
  assert.throws(() => ctx.params.set('operator.limiter.max-entries', 'lots'), /expected an integer/);
});
