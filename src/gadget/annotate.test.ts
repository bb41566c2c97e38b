import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyAnnotations, checkAnnotationTargets, parseAnnotation, parseAnnotations, splitAnnotations } from './annotate.js';
import { parseMetadata } from './metadata.js';

test('parseAnnotation: data source and field subjects, values with : and =', () => {
  assert.deepEqual(parseAnnotation('open:metrics.collect=true'), { text: 'open:metrics.collect=true', ds: 'open', key: 'metrics.collect', value: 'true' });
  assert.deepEqual(parseAnnotation('open.proc.comm:metrics.type=key'), { text: 'open.proc.comm:metrics.type=key', ds: 'open', field: 'proc.comm', key: 'metrics.type', value: 'key' });
  assert.equal(parseAnnotation('ds:description=a:b=c').value, 'a:b=c');
  assert.equal(parseAnnotation('ds:k=').value, '');
});

test('parseAnnotation: malformed input is one clear error naming it', () => {
  for (const [bad, why] of [
    ['open', /expected datasource:annotation=value/], [':a=b', /empty subject/], ['open:', /empty subject or assignment/],
    ['open:metrics.collect', /expected annotation=value/], ['open:=x', /empty annotation name/], ['open..f:a=b', /empty data source, field/],
  ] as const) {
    assert.throws(() => parseAnnotation(bad), (e: Error) => why.test(e.message) && e.message.includes(`"${bad}"`), bad);
  }
});

test('splitAnnotations: commas separate; a piece without ":" continues the previous value', () => {
  assert.deepEqual(splitAnnotations(['a:x=1,b.f:y=2', 'c:z=3']), ['a:x=1', 'b.f:y=2', 'c:z=3']);
  assert.deepEqual(splitAnnotations(['ds.lat:metrics.boundaries=1,10,100,ds:metrics.collect=true']),
    ['ds.lat:metrics.boundaries=1,10,100', 'ds:metrics.collect=true']);
});

test('applyAnnotations: merged over gadget.yaml, later wins; unknown targets are reported', () => {
  const md = parseMetadata('datasources:\n  open:\n    annotations:\n      metrics.print: "false"\n    fields:\n      fname:\n        annotations:\n          columns.width: "10"\n');
  applyAnnotations(md, parseAnnotations(['open:metrics.print=true,open.fname:columns.width=20', 'open.proc.comm:metrics.type=key', 'open.fname:columns.width=30']));
  assert.equal(md.datasources.open!.annotations!['metrics.print'], 'true');
  assert.equal(md.datasources.open!.fields!['fname']!.annotations!['columns.width'], '30');
  assert.equal(md.datasources.open!.fields!['proc.comm']!.annotations!['metrics.type'], 'key');
  const sources = new Map([['open', { fields: [{ fullName: 'fname' }, { fullName: 'proc.comm' }] }]]);
  checkAnnotationTargets(parseAnnotations(['open.proc.comm:a=b']), sources);
  assert.throws(() => checkAnnotationTargets(parseAnnotations(['opn:a=b']), sources), /no data source "opn" \(it has: open\)/);
  assert.throws(() => checkAnnotationTargets(parseAnnotations(['open.proc.com:a=b']), sources), /has no field "proc.com"/);
});
