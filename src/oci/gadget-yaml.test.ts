import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGadgetYaml, GadgetYamlError } from './gadget-yaml.js';
import { parseMetadata, MetadataError } from '../gadget/metadata.js';

const bad: [string, string, RegExp][] = [
  ['name number', 'name: 5\n', /gadget\.yaml: "name" must be a string, not a number \(5\)/],
  ['datasources string', 'name: x\ndatasources: "hello"\n', /"datasources" must be a map, not a string \("hello"\)/],
  ['fields list', 'datasources:\n  open:\n    fields: [1, 2, 3]\n', /"datasources\.open\.fields" must be a map, not a list/],
  ['annotations string', 'annotations: "not a map"\n', /"annotations" must be a map, not a string/],
  ['field annotations nested', 'datasources:\n  open:\n    fields:\n      pid:\n        annotations:\n          columns.width: [1]\n', /"datasources\.open\.fields\.pid\.annotations\.columns\.width" must be a string, not a list/],
  ['tags map', 'datasources:\n  open:\n    fields:\n      pid:\n        tags: {a: 1}\n', /"datasources\.open\.fields\.pid\.tags" must be a list/],
  ['params', 'params:\n  ebpf: 7\n', /"params\.ebpf" must be a map, not a number/],
  ['document list', '- a\n- b\n', /the document must be a map of keys, not a list/],
  ['duplicate', 'name: a\ndescription: b\nname: c\n', /gadget\.yaml:3: duplicate key "name"/],
  ['syntax', 'name: [unclosed\n', /gadget\.yaml(:\d+)?: invalid YAML/],
];

test('gadget.yaml type errors name the key (and duplicate keys the line)', () => {
  for (const [what, text, re] of bad) {
    assert.throws(() => parseGadgetYaml(text), (e: Error) => e instanceof GadgetYamlError && re.test(e.message), what);
    // ig run reads metadata through parseMetadata: the same check, as a MetadataError naming the image
    assert.throws(() => parseMetadata(Buffer.from(text), 'img: gadget.yaml'), (e: Error) => e instanceof MetadataError && e.message.startsWith('img: gadget.yaml'), what);
  }
  const ok = parseGadgetYaml('name: trace open\nannotations:\n  x: 1\ndatasources:\n  open:\n    fields:\n      pid:\n        tags: [a]\n      comm:\nparams:\n  ebpf:\n    targ_uid:\n      key: uid\n      defaultValue: 0\n');
  assert.equal(ok.name, 'trace open');
  assert.deepEqual(parseGadgetYaml(''), {});
});

test('gadget.yaml is size-capped with a clear message', () => {
  const big = 'name: x\ndescription: "' + 'a'.repeat(1 << 20) + '"\n';
  assert.throws(() => parseGadgetYaml(big, 'g.yaml'), /g\.yaml: \d+ bytes is more than the 1 MiB limit for gadget\.yaml/);
});

function manyKeys(n: number): string {
  let s = 'name: x\nannotations:\n';
  for (let i = 0; i < n; i++) s += `  key${i}: v${i}\n`;
  return s;
}

test('the duplicate-key check is linear: 8x the keys costs about 8x, not 64x', () => {
  // a ratio within one run, not a wall-clock bound: quadratic checking made 4x the keys cost 17x (a 4.2 MB
  // gadget.yaml took 14.8 s). Small and large are measured alternately and the best of each is kept, so load from
  // other processes hits both alike; 24 sits between linear (8) and quadratic (64) with room for noise.
  const small = Buffer.from(manyKeys(4000));
  const large = Buffer.from(manyKeys(32000));
  // CPU time of this process, not wall time: other processes on the machine do not inflate it
  const once = (b: Buffer) => {
    const t = process.cpuUsage();
    parseMetadata(b, 'gadget.yaml'); // what `ig run` calls
    const d = process.cpuUsage(t);
    return d.user + d.system;
  };
  once(small); // warm up the parser's code paths
  let bestSmall = Infinity;
  let bestLarge = Infinity;
  for (let r = 0; r < 5; r++) {
    bestSmall = Math.min(bestSmall, once(small));
    bestLarge = Math.min(bestLarge, once(large));
  }
  const ratio = bestLarge / bestSmall;
  assert.ok(ratio < 24, `parse cost grew ${ratio.toFixed(1)}x for 8x the keys`);
});

test('parsed gadget.yaml is cached by content hash: the second run reads the JSON, bad files are never cached', async () => {
  const { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { createHash } = await import('node:crypto');
  const dir = mkdtempSync(join(tmpdir(), 'ig-yaml-cache-'));
  try {
    const text = 'name: cached\ndatasources:\n  open:\n    fields:\n      pid:\n        annotations:\n          columns.width: "7"\n';
    const first = parseGadgetYaml(text, 'gadget.yaml', dir);
    const file = join(dir, `${createHash('sha256').update(text).digest('hex')}.json`);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), first);
    // The cache answers for these bytes (a changed entry shows it was read, not the text parsed again).
    writeFileSync(file, JSON.stringify({ ...first, name: 'from-cache' }));
    assert.equal(parseGadgetYaml(text, 'gadget.yaml', dir)['name'], 'from-cache');
    assert.equal(parseGadgetYaml(text, 'gadget.yaml')['name'], 'cached');
    // Errors are not cached; values JSON cannot carry (.inf) are not cached either.
    assert.throws(() => parseGadgetYaml('name: 5\n', 'gadget.yaml', dir), GadgetYamlError);
    assert.equal(parseGadgetYaml('name: x\nannotations:\n  a: "1"\nparams: {}\nx: .inf\n', 'gadget.yaml', dir)['x'], Infinity);
    assert.deepEqual(readdirSync(dir), [file.slice(dir.length + 1)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
