// A record predicate described as data: what a filter keeps, in a form that other consumers can compile (the
// cli's native render plan evaluates it on the reader thread). Every node also carries its JS evaluation, so a
// consumer that cannot compile a leaf can still ask JS for that leaf's answer (and memoise it per input bytes).
import type { Batch } from './batch.js';
import type { Field } from './field.js';

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type Predicate =
  | { kind: 'and' | 'or'; args: Predicate[] }
  | { kind: 'not'; arg: Predicate }
  | { kind: 'const'; value: boolean }
  /**
   * `field OP value` where field's value is compared as its kind says: integers (bigint value, exact), strings
   * (by code point), booleans (== and != only). `test` is the JS evaluation of exactly this leaf.
   */
  | { kind: 'cmp'; field: Field; op: CmpOp; value: bigint | string | boolean; test: (b: Batch, i: number) => boolean }
  /** `field startsWith/endsWith/contains value` on a string field. */
  | { kind: 'strmatch'; field: Field; op: 'startsWith' | 'endsWith' | 'contains'; value: string; test: (b: Batch, i: number) => boolean }
  /** Anything else (regular expressions, functions, arithmetic, CIDR): a JS test over the fields it reads. */
  | { kind: 'opaque'; fields: Field[]; what: string; test: (b: Batch, i: number) => boolean };

/** The JS evaluation of a whole predicate. */
export function evalPredicate(p: Predicate): (b: Batch, i: number) => boolean {
  switch (p.kind) {
    case 'const': { const v = p.value; return () => v; }
    case 'cmp': case 'strmatch': case 'opaque': return p.test;
    case 'not': { const a = evalPredicate(p.arg); return (b, i) => !a(b, i); }
    case 'and': {
      const as = p.args.map(evalPredicate);
      return (b, i) => { for (const a of as) if (!a(b, i)) return false; return true; };
    }
    case 'or': {
      const as = p.args.map(evalPredicate);
      return (b, i) => { for (const a of as) if (a(b, i)) return true; return false; };
    }
  }
}

/** Compare two strings by code point (the order of their UTF-8 bytes, as upstream's Go compares them). */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) {
    const x = a.charCodeAt(k);
    const y = b.charCodeAt(k);
    if (x === y) continue;
    // UTF-16 puts surrogates (code points >= U+10000) below U+E000..U+FFFF; code point order puts them above.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy && Math.max(x, y) >= 0xe000) return sx ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

/**
 * A regular expression that only says "is / starts with / ends with / contains this text" (optionally several
 * such alternatives: `^ba|sh$`), as Predicate leaves over a string field; undefined for anything else. Lets a
 * consumer that cannot run regular expressions (the native plan) still evaluate the common ones.
 */
export function literalRegexPredicate(field: Field, source: string, get: (b: Batch, i: number) => unknown): Predicate | undefined {
  const alts: Predicate[] = [];
  for (const alt of splitAlternatives(source)) {
    let s = alt;
    const start = s.startsWith('^');
    if (start) s = s.slice(1);
    let end = false;
    if (s.endsWith('$') && !s.endsWith('\\$')) { end = true; s = s.slice(0, -1); }
    let lit = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\') {
        const n = s[i + 1];
        if (n === undefined || /[A-Za-z0-9]/.test(n)) return undefined; // \d, \w, \1 ...: not a literal
        lit += n;
        i++;
        continue;
      }
      if ('^$.|?*+()[]{}'.includes(c)) return undefined;
      lit += c;
    }
    const str = (b: Batch, i: number) => { const v = get(b, i); return v === undefined || v === null ? '' : String(v); };
    if (start && end) alts.push({ kind: 'cmp', field, op: '==', value: lit, test: (b, i) => str(b, i) === lit });
    else if (start) alts.push({ kind: 'strmatch', field, op: 'startsWith', value: lit, test: (b, i) => str(b, i).startsWith(lit) });
    else if (end) alts.push({ kind: 'strmatch', field, op: 'endsWith', value: lit, test: (b, i) => str(b, i).endsWith(lit) });
    else alts.push({ kind: 'strmatch', field, op: 'contains', value: lit, test: (b, i) => str(b, i).includes(lit) });
  }
  if (alts.length === 0) return undefined;
  return alts.length === 1 ? alts[0] : { kind: 'or', args: alts };
}

/** Top-level alternatives of a pattern (a `|` not escaped); groups and classes make it no literal anyway. */
function splitAlternatives(src: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < src.length; i++) {
    if (src[i] === '\\') { cur += src.slice(i, i + 2); i++; continue; }
    if (src[i] === '|') { out.push(cur); cur = ''; continue; }
    cur += src[i];
  }
  out.push(cur);
  return out;
}
