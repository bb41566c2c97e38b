// --filter rules: "field OP value" joined by commas (backslash escapes a comma). All rules must match.
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { Kind, baseKind, isIntegerKind, isArrayKind } from '../../datasource/index.js';
import { didYouMean } from '../../gadget/suggest.js';
import { compareCodePoints, evalPredicate, literalRegexPredicate, type Predicate } from '../../datasource/predicate.js';

export class FilterError extends Error {}

type Op = '==' | '!=' | '>=' | '>' | '<=' | '<' | '~' | '!~';
const OPS: Op[] = ['==', '!=', '>=', '<=', '!~', '>', '<', '~'];

export interface Rule { field: Field; op: Op; value: string }

export function splitRules(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && s[i + 1] === ',') { cur += ','; i++; continue; }
    if (c === ',') { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out.map((r) => r.trim()).filter((r) => r !== '');
}

export function parseRule(ds: DataSource, rule: string): Rule {
  const m = /^([^!~<>=]+)(.*)$/s.exec(rule);
  if (!m || !m[2]) throw new FilterError(`invalid filter "${rule}": expected field, operator and value (e.g. proc.pid==42)`);
  const name = m[1]!.trim();
  let rest = m[2];
  let op: Op | undefined;
  for (const o of OPS) if (rest.startsWith(o)) { op = o; break; }
  if (!op && rest.startsWith('=')) op = '==';
  if (!op) throw new FilterError(`invalid filter "${rule}": unknown operator`);
  rest = rest.slice(op === '==' && !rest.startsWith('==') ? 1 : op.length);
  const field = ds.getField(name);
  if (!field || field.isEmpty) throw new FilterError(`invalid filter "${rule}": data source ${ds.name} has no field "${name}"${didYouMean(name, fieldNames(ds))}`);
  return { field, op, value: rest };
}

/** Compile a rule into a predicate over record indices; values are parsed once, per the field's kind. */
export function compileRule(r: Rule): (b: Batch, i: number) => boolean {
  return evalPredicate(rulePredicate(r));
}

/** A rule as a Predicate leaf: a comparison of the field with a constant, or (regex, floats) an opaque test. */
export function rulePredicate(r: Rule): Predicate {
  const test = ruleTest(r);
  const { field, op } = r;
  const kindOf = baseKind(field.kind);
  if ((op === '~' || op === '!~') && !isArrayKind(field.kind) && (kindOf === Kind.String || kindOf === Kind.CString)) {
    // A regex that is only literal text: comparisons the native plan evaluates itself.
    const lit = literalRegexPredicate(field, r.value, field.get);
    if (lit) return op === '~' ? lit : { kind: 'not', arg: lit };
  }
  if (op !== '~' && op !== '!~' && !isArrayKind(field.kind)) {
    const kind = baseKind(field.kind);
    const v = r.value.trim();
    if (isIntegerKind(kind)) return { kind: 'cmp', field, op, value: BigInt(v), test };
    if (kind === Kind.Bool && (op === '==' || op === '!=')) return { kind: 'cmp', field, op, value: r.value === 'true' || r.value === '1', test };
    if (kind !== Kind.Bool && kind !== Kind.Float32 && kind !== Kind.Float64) return { kind: 'cmp', field, op, value: r.value, test };
  }
  return { kind: 'opaque', fields: [field], what: `${field.fullName}${op}${r.value}`, test };
}

function ruleTest(r: Rule): (b: Batch, i: number) => boolean {
  const { field, op, value } = r;
  const get = field.get;
  if (op === '~' || op === '!~') {
    let re: RegExp;
    try { re = new RegExp(value); } catch (e) { throw new FilterError(`invalid filter regex "${value}" for ${field.fullName}: ${(e as Error).message}`); }
    const want = op === '~';
    return (b, i) => re.test(String(get(b, i) ?? '')) === want;
  }
  const kind = baseKind(field.kind);
  let target: number | bigint | string | boolean;
  if (isArrayKind(field.kind)) throw new FilterError(`cannot filter on array field ${field.fullName}`);
  if (isIntegerKind(kind)) {
    if (!/^-?\d+$/.test(value.trim())) throw new FilterError(`invalid filter value "${value}" for ${field.fullName}: expected an integer`);
    target = BigInt(value.trim());
  } else if (kind === Kind.Float32 || kind === Kind.Float64) {
    target = Number(value);
    if (value.trim() === '' || Number.isNaN(target)) throw new FilterError(`invalid filter value "${value}" for ${field.fullName}: expected a number`);
  } else if (kind === Kind.Bool) {
    if (!['true', '1', 'false', '0'].includes(value)) throw new FilterError(`invalid filter value "${value}" for ${field.fullName}: expected true or false`);
    target = value === 'true' || value === '1';
  } else {
    target = value;
  }
  const cmp = (v: unknown): number => {
    if (typeof target === 'bigint') {
      const x = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v ?? 0)));
      return x < target ? -1 : x > target ? 1 : 0;
    }
    if (typeof target === 'number') { const x = Number(v); return x < target ? -1 : x > target ? 1 : 0; }
    if (typeof target === 'boolean') return Number(Boolean(v)) - Number(target);
    return compareCodePoints(String(v ?? ''), target);
  };
  switch (op) {
    case '==': return (b, i) => cmp(get(b, i)) === 0;
    case '!=': return (b, i) => cmp(get(b, i)) !== 0;
    case '>': return (b, i) => cmp(get(b, i)) > 0;
    case '>=': return (b, i) => cmp(get(b, i)) >= 0;
    case '<': return (b, i) => cmp(get(b, i)) < 0;
    case '<=': return (b, i) => cmp(get(b, i)) <= 0;
  }
}

/** The rules of one --filter value as one Predicate (their conjunction), or undefined when there is none. */
export function filterPredicate(ds: DataSource, expr: string): Predicate | undefined {
  const leaves = splitRules(expr).map((r) => rulePredicate(parseRule(ds, r)));
  if (leaves.length === 0) return undefined;
  return leaves.length === 1 ? leaves[0] : { kind: 'and', args: leaves };
}

export function compileFilter(ds: DataSource, expr: string): ((b: Batch, i: number) => boolean) | undefined {
  const p = filterPredicate(ds, expr);
  return p ? evalPredicate(p) : undefined;
}

function fieldNames(ds: DataSource): string[] {
  return ds.fields.filter((f) => !f.isEmpty && !f.unreferenced).map((f) => f.fullName);
}
