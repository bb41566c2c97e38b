// Column cells with characters of other widths (East Asian Wide and Fullwidth, emoji, combining and spacing marks,
// ambiguous and halfwidth letters, broken UTF-8) are rendered by the native plan (native/src/render_width.c) byte
// for byte as columns.ts renders them with string-width, at every width, limit, alignment and ellipsis. Characters
// whose width depends on their neighbours (ZWJ sequences, flags, skin tones, keycaps, variation selectors, Hangul
// jamo, conjunct linkers, zero-width controls) and non-ASCII white space miss: JS renders those records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeTestHooks } from '../harness/native-test-addon.js';
import { DataSource, Kind } from '../../src/datasource/index.js';
import { batchFromRing } from '../../src/operators/ebpf/records.js';
import { columnFor, rowLine } from '../../src/operators/cli/columns.js';
import { compileNativeColumns } from '../../src/operators/cli/native-plan.js';
import { rng } from './fixtures.js';

/** Each rendered alone and with its neighbours: the native widths must agree in every mix. */
const NATIVE = [
  'a', 'Z', '7', '-', ' ', '/', // ASCII
  '中', '日', '本', '語', 'ア', 'ー', '한', '글', '가', '\uac01', // Wide (CJK, kana, Hangul syllables)
  'Ｆ', '１', '！', '\u3001', // Fullwidth, ideographic comma
  'ｱ', 'ｶ', 'ﾞ', '\uffe8', // halfwidth (one cell)
  'é', 'ñ', 'ß', 'Ω', 'Ж', '…', '±', '°', '\u2014', '\u00ab', // ambiguous and narrow letters and signs
  '\u0301', '\u0308', '\u0327', '\u20dd', '\u1ab0', '\u1dc0', '\ufe20', // combining marks (zero width)
  '\u093f', '\u0940', '\u0903', 'क', 'ष', // Devanagari letters and spacing marks
  'ก', '\u0e31', '\u0e48', 'ع', '\u064e', 'א', '\u05b7', // Thai, Arabic and Hebrew marks
  '😀', '🎉', '✅', '🚀', '\u231a', '\u2615', // emoji presentation (two cells)
  '\u263a', '\u00a9', '\u2122', '\u2764', // text-presentation emoji as string-width counts them
  '\ud840\udc0b', '\u{1f9e0}', '\u{2ebf0}', // supplementary planes
  '\u4e00\u0301', 'e\u0301\u0308', // bases with marks
];
const MISSES = [
  '\u200d', '👨\u200d👩\u200d👧', '🇯🇵', '👍🏽', '1\ufe0f\u20e3', '\u2764\ufe0f', '\u1100', '\u1161', '\u11a8', 'क\u094dष',
  '\u200b', '\u00ad', '\u2060', '\ufeff', '\u0600',
];
/** Non-ASCII white space (String#trimEnd() strips it at a row's end): native, the row's trim strips it too. */
const SPACES = ['\u00a0', '\u3000', '\u2009', '\u2000', '\u205f', '\u1680', '\u202f'];

const FIELD = 64;

function world() {
  const ds = new DataSource('ev', 'single');
  ds.staticSize = 2 * FIELD;
  const a = ds.addField({ name: 'name', kind: Kind.CString, storage: { type: 'static', offs: 0, size: FIELD } });
  const b = ds.addField({ name: 'path', kind: Kind.CString, storage: { type: 'static', offs: FIELD, size: FIELD } });
  return { ds, a, b };
}

function record(name: Buffer, path: Buffer): Buffer {
  const raw = Buffer.alloc(8 + 2 * FIELD);
  raw.writeUInt32LE(2 * FIELD, 0);
  name.copy(raw, 8, 0, FIELD - 1);
  path.copy(raw, 8 + FIELD, 0, FIELD - 1);
  return raw;
}

const ELLIPSES = ['end', 'start', 'middle', 'none'];

type World = ReturnType<typeof world>;

/** The two columns of a world compiled to a native plan; render() gives what JS prints for a record beside what the
 * plan does with it. */
function plan({ ds, a, b }: World) {
  const cols = [columnFor(ds, a, false), columnFor(ds, b, true)];
  const np = compileNativeColumns(cols);
  if ('reason' in np) throw new Error(np.reason);
  return {
    render(raw: Buffer) {
      const expected = rowLine(cols, batchFromRing(ds, Buffer.from(raw), 1), 0) + '\n';
      const res = nativeTestHooks().renderPlanRender(np.plan.handle, raw, 1);
      return { expected, out: res.out.toString('utf8'), missed: res.missed };
    },
    dispose: () => np.dispose(),
  };
}

/** The name column `width` wide, the path column at most `width`, both cut with `ell`. */
function widthPlan(width: number, ell: string) {
  const w = world();
  w.a.annotations.set('columns.width', String(width));
  w.a.annotations.set('columns.ellipsis', ell);
  w.b.annotations.set('columns.maxwidth', String(width));
  w.b.annotations.set('columns.ellipsis', ell);
  return plan(w);
}

test('native columns: wide, combining and emoji characters render natively, byte for byte as string-width measures them', () => {
  const r = rng(1606);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  let rendered = 0;
  let cut = 0;
  for (let layout = 0; layout < 60; layout++) {
    const w = world();
    const { a, b } = w;
    a.annotations.set('columns.width', String(1 + Math.floor(r() * 14)));
    a.annotations.set('columns.ellipsis', pick(ELLIPSES));
    if (r() < 0.4) a.annotations.set('columns.alignment', 'right');
    if (r() < 0.5) b.annotations.set('columns.maxwidth', String(1 + Math.floor(r() * 12)));
    b.annotations.set('columns.ellipsis', pick(ELLIPSES));
    b.annotations.set('columns.width', String(1 + Math.floor(r() * 6)));
    if (r() < 0.3) b.annotations.set('columns.alignment', 'right');
    const np = plan(w);
    try {
      for (let k = 0; k < 40; k++) {
        const text = (n: number) => Array.from({ length: n }, () => pick(NATIVE)).join('');
        const name = Buffer.from(text(Math.floor(r() * 10)), 'utf8');
        // Sometimes a path cut inside a character (the field's size) or with a broken sequence (U+FFFD).
        let path = Buffer.from(text(Math.floor(r() * 16)), 'utf8');
        if (r() < 0.15) path = Buffer.concat([path, Buffer.from([0xe4, 0xb8]), Buffer.from(text(2), 'utf8')]);
        const { expected, out, missed } = np.render(record(name, path));
        assert.deepEqual(missed, [], `no miss for ${JSON.stringify(name.toString())} / ${JSON.stringify(path.toString())}`);
        assert.equal(out, expected, `layout ${layout}: ${JSON.stringify(name.toString())} / ${JSON.stringify(path.toString())}`);
        rendered++;
        if (expected.includes('…')) cut++;
      }
    } finally {
      np.dispose();
    }
  }
  assert.equal(rendered, 60 * 40);
  assert.ok(cut > 200, `cuts exercised: ${cut}`);
});

test('native columns: each character class alone, at every width from 1 to 8 and every ellipsis', () => {
  for (const ch of NATIVE) {
    for (const reps of [1, 2, 5]) {
      for (let width = 1; width <= 8; width++) {
        for (const ell of ELLIPSES) {
          const np = widthPlan(width, ell);
          try {
            const s = Buffer.from(`${ch.repeat(reps)}x${ch}`, 'utf8');
            const { expected, out, missed } = np.render(record(s, s));
            assert.deepEqual(missed, [], JSON.stringify(ch));
            assert.equal(out, expected, `${JSON.stringify(ch)} x${reps} width ${width} ${ell}`);
          } finally {
            np.dispose();
          }
        }
      }
    }
  }
});

test('native columns: non-ASCII white space inside, before and at the end of cells and rows, byte for byte', () => {
  for (const sp of SPACES) {
    for (const t of [`${sp}a`, `a${sp}b`, `ab${sp}`, `${sp}${sp}`, `a${sp} ${sp}`]) {
      for (const width of [1, 2, 3, 6]) {
        for (const ell of ELLIPSES) {
          const np = widthPlan(width, ell);
          try {
            for (const [x, y] of [[t, t], [t, ''], ['', t]] as const) {
              const { expected, out, missed } = np.render(record(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')));
              assert.deepEqual(missed, [], JSON.stringify([x, y]));
              assert.equal(out, expected, `${JSON.stringify([x, y])} width ${width} ${ell}`);
            }
          } finally {
            np.dispose();
          }
        }
      }
    }
  }
});

test('native columns: characters whose width depends on their neighbours go to JS', () => {
  const np = plan(world());
  try {
    for (const m of MISSES) {
      assert.deepEqual(np.render(record(Buffer.from(`ab${m}中`, 'utf8'), Buffer.from('/x'))).missed, [0], JSON.stringify(m));
    }
  } finally {
    np.dispose();
  }
});

test('the width table was generated from the ICU and string-width in use (else: node scripts/gen-width-table.mjs)', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { repoRoot } = await import('../harness/ig.js');
  const h = readFileSync(join(repoRoot(), 'native', 'src', 'render_width_table.h'), 'utf8');
  const sw = JSON.parse(readFileSync(join(repoRoot(), 'node_modules', 'string-width', 'package.json'), 'utf8')) as { version: string };
  assert.equal(/IG_WIDTH_ICU "([^"]+)"/.exec(h)?.[1], process.versions.icu, 'ICU changed: regenerate native/src/render_width_table.h');
  assert.equal(/IG_WIDTH_STRING_WIDTH "([^"]+)"/.exec(h)?.[1], sw.version, 'string-width changed: regenerate native/src/render_width_table.h');
});
